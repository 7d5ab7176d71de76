"""SMGP 3.0 (China Telecom's Short Message Gateway Protocol): codec (``pdu``), piguard as the SMGW
content providers log in to (``server``, on the shared ``ismg`` base), sharing the SMPP bridge's
decision path (``bridge``)."""
