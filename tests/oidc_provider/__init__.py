"""A tiny OpenID Connect provider for the login tests (django-oauth-toolkit).

It is a separate Django project, run by tests/oidc_provider/server.py as a real
server on 127.0.0.1 with its own SQLite database and an RSA key made at test
time. People and their claims live in a JSON file the tests rewrite between
logins, so changing someone's roles needs no restart.
"""
