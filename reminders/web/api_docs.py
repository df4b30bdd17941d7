"""The REST API's documentation pages, /docs (Swagger UI) and /redoc, with every file they
load served from here.

FastAPI's defaults fetch Swagger UI and ReDoc from a CDN, so on a clinic network without
internet the docs were a blank page. The files come from the fastapi-offline package (its
copies of swagger-ui-dist 5 and ReDoc 2); only the pages and a fixed list of files are
served, following FastAPI's "self-hosting JavaScript and CSS for docs".
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter, HTTPException, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response

ASSETS = "/docs/assets"
_FILES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "redoc.standalone.js": "text/javascript",
    "favicon.png": "image/png",
}
_DIR = files("fastapi_offline") / "static"
# The online validator badge would load an image from swagger.io: off.
_SWAGGER_PARAMETERS = {"validatorUrl": None, "deepLinking": True,
                       "showExtensions": True, "showCommonExtensions": True}  # fmt: skip

router = APIRouter(include_in_schema=False)


def _root(request: Request) -> str:
    root: str = request.scope.get("root_path", "")
    return root.rstrip("/")


@router.get("/docs", response_class=HTMLResponse)
def swagger_ui(request: Request) -> HTMLResponse:
    root = _root(request)
    return get_swagger_ui_html(
        openapi_url=f"{root}{request.app.openapi_url}", title=f"{request.app.title} API",
        swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{root}{ASSETS}/favicon.png",
        swagger_ui_parameters=_SWAGGER_PARAMETERS,
    )  # fmt: skip


@router.get("/redoc", response_class=HTMLResponse)
def redoc(request: Request) -> HTMLResponse:
    root = _root(request)
    return get_redoc_html(
        openapi_url=f"{root}{request.app.openapi_url}", title=f"{request.app.title} API",
        redoc_js_url=f"{root}{ASSETS}/redoc.standalone.js",
        redoc_favicon_url=f"{root}{ASSETS}/favicon.png", with_google_fonts=False,
    )  # fmt: skip


@router.get(ASSETS + "/{name}")
def asset(name: str) -> Response:
    if name not in _FILES:
        raise HTTPException(404, "not found")
    # Versioned by the installed package; a day in the browser's cache is plenty.
    return Response((_DIR / name).read_bytes(), media_type=_FILES[name],
                    headers={"Cache-Control": "public, max-age=86400"})  # fmt: skip
