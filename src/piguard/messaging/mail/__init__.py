"""The e-mail transport: allowed commercial and service e-mail from the outbox to a mail relay (SMTP)."""
