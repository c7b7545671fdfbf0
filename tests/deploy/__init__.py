"""Checks of the deploy files: Prometheus rules, compose, Kubernetes, Dockerfile, the access SQL."""
