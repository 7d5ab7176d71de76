"""The server side shared by China's SMS gateway protocols (CMPP 2.0/3.0, SMGP 3.0, SGIP 1.2).

All three frame every packet with a 4-octet length first and a 4-octet command id, answer each
request with a response of the same sequence, keep the link alive with a test packet and let the
gateway flow-control a content provider by a window of unanswered submits. ``transport`` holds that
part (the connection loop, windowing and rate, keep-alive and idle timeouts, long-message
reassembly, worker threads for the decision); ``text`` the TP_udhi / Msg_Fmt handling; ``models``
and ``accounts`` the content providers' logins (one table for SMGP and SGIP; CMPP keeps its own, of
the same shape); ``reports`` the status-report queue; ``mo`` the MO replies handed over by the SMPP
gateway's upstream link; ``cli`` the shape of ``sms *-serve`` and ``sms *-account``. Each protocol
(``cmpp``, ``smgp``, ``sgip``) adds its codec, its login check and its result table, and decides
every submit through the SMPP bridge's ``decide_submission`` (one decision path)."""
