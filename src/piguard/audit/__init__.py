"""Tamper-evident audit log (O24-13.6): who did what, when, from where, to whose information, why.

Low in the house: imports only :mod:`piguard.core` and :mod:`piguard.regulations`. Everything above
records into it through :func:`piguard.audit.service.record`; its search API and console pages live
in :mod:`piguard.oversight`.
"""
