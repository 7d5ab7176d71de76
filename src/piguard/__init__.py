"""piguard: user personal-information protection for Chinese telecom and Internet services."""

__version__ = "0.1.0"
