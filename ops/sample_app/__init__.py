"""The sample web app that the local stack runs by default (Starlette + psycopg)."""
