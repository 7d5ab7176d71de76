"""CMPP 2.0 / 3.0 (China Mobile Peer to Peer): codec (``pdu``), piguard as the ISMG content
providers connect to (``server``), sharing the SMPP bridge's decision path (``bridge``)."""
