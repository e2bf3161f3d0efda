"""A second database connection for tests of what concurrent writers see and wait for."""

import psycopg
from django.db import connection


def other_connection() -> psycopg.Connection:
    """A second, autocommit connection to the test database: another user of the CRM."""
    db = connection.settings_dict
    return psycopg.connect(dbname=db["NAME"], user=db["USER"], host=db["HOST"], port=db["PORT"] or 5432,
                           password=db["PASSWORD"] or None, autocommit=True)
