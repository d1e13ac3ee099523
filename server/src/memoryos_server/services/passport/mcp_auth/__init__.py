"""The Passport over MCP: this server as the OAuth 2.1 authorization server of its own MCP
endpoint, and what an MCP client's tools may do (docs/mcp.md)."""
