"""Shared foundations: configuration, database, errors, reasons, calendar, crypto, logging."""
