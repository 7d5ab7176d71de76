"""SGIP 1.2 (China Unicom's SMS Gateway Interface Protocol): codec (``pdu``), piguard as the SMG
content providers bind to (``server``, on the shared ``ismg`` base), sharing the SMPP bridge's
decision path (``bridge``)."""
