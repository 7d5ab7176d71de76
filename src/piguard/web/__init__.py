"""Console for compliance staff and the end-user portal: server-rendered Jinja2 + htmx."""
