"""Typed async client for the REST API and bulk start (arrives with the API issue)."""
