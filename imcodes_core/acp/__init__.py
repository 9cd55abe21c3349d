"""ACP (Agent Client Protocol): drive any ACP agent headless over JSON-RPC 2.0 on its stdio. See docs/acp.md."""

from imcodes_core.acp.connection import (
    AcpConnection,
    AcpConnectionClosedError,
    AcpError,
    AcpRpcError,
    AcpTimeoutError,
)
from imcodes_core.acp.events import AcpEventMapper, PermissionOption, PermissionRequest
from imcodes_core.acp.files import ProjectFiles
from imcodes_core.acp.session import AcpSession, PermissionHandler

__all__ = [
    "AcpConnection",
    "AcpConnectionClosedError",
    "AcpError",
    "AcpEventMapper",
    "AcpRpcError",
    "AcpSession",
    "AcpTimeoutError",
    "PermissionHandler",
    "PermissionOption",
    "PermissionRequest",
    "ProjectFiles",
]
