"""Fixtures for the SDK tests: the published SDK in its own virtual environment."""

from tests.fixtures.published_sdk import published_sdk_python, published_sdk_runner

__all__ = ["published_sdk_python", "published_sdk_runner"]
