"""HTTP: dlt's RESTClient with our retries, rate limiting and secret redaction around it."""
