"""The built-in CRM: a separate application playing the CRM's part.

It is an OpenID Connect identity provider, serves a REST API for search and activities, and hosts
the agent console in its pages (the CTI host protocol).
"""
