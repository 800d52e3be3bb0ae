"""The chat page at ``/`` (api/static/index.html) and its files under ``/static``.

Open, like the API documentation: the page holds no data, and every API call it makes needs a
key when keys are configured (the widget's ``api-key`` attribute; see docs/widget.md).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from api.errors import NotFoundError

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


def mount_ui(app: FastAPI, static_dir: Path = STATIC_DIR) -> None:
    """Serve ``static_dir`` at /static and its index.html at /, when they exist."""
    if static_dir.is_dir():
        app.mount("/static", StaticFiles(directory=static_dir), name="static")
    router = APIRouter(include_in_schema=False)
    index = static_dir / "index.html"

    @router.get("/")
    def chat_page() -> FileResponse:
        if not index.is_file():
            raise NotFoundError("no chat page is installed (api/static/index.html)")
        return FileResponse(index, media_type="text/html")

    app.include_router(router)
