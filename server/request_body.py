"""The one reader of request bodies. Every route that takes a JSON body declares it as a ``JsonBody``
dependency (and its OpenAPI from the same object), so each rule holds for every body:

1. ``Content-Type: application/json`` (charset, if given, UTF-8), else 415 UNSUPPORTED_MEDIA_TYPE: a
   browser sends ``text/plain``, form and multipart bodies cross-site without asking, never JSON.
2. A size cap: refused from its Content-Length, or as soon as the bytes streamed in pass it (413). A 10 MB
   body is never buffered, whatever the client announces.
3. Strict JSON: UTF-8, one value per key in every object, nesting Python can parse; then the text and
   number rules of ``server.validation`` over every string, key and number (400 naming each field).
4. The route's model (pydantic): 400 with field-level details.
"""

from __future__ import annotations

import email.message
import json
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from fastapi import FastAPI, Request
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import GenerateJsonSchema

from server.errors import AppError, invalid_request, payload_too_large, validation_details
from server.models.errors import error_responses
from server.validation import NESTING_LIMIT, document_issues, nested_deeper_than, object_from_pairs

M = TypeVar("M", bound=BaseModel)
JSON_MEDIA_TYPE = "application/json"


def body_too_large(limit: int) -> AppError:
    return payload_too_large(f"The request body is larger than {limit} bytes.")


def unsupported_media_type(sent: str) -> AppError:
    shown = sent.split(";", 1)[0].strip()[:100] or "none"
    return AppError(
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        f"The request body must be JSON sent as Content-Type: {JSON_MEDIA_TYPE} (it was {shown}).",
    )


def require_json(request: Request) -> None:
    sent = request.headers.get("content-type", "")
    header = email.message.Message()
    header["content-type"] = sent
    charset = header.get_param("charset")
    if not sent or header.get_content_type() != JSON_MEDIA_TYPE:
        raise unsupported_media_type(sent)
    if isinstance(charset, str) and charset.lower().replace("_", "-") not in ("utf-8", "utf8"):
        raise unsupported_media_type(sent)


async def read_capped(request: Request, limit: int, too_large: Callable[[], AppError]) -> bytes:
    # The HTTP server has already refused a Content-Length that is not a number.
    announced = request.headers.get("content-length", "")
    if announced.isdigit() and int(announced) > limit:
        raise too_large()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large()
    return bytes(body)


def parse_json(body: bytes, *, nesting_field: str = "body") -> Any:
    """Bytes -> a JSON document that keeps the rules, or a 400 naming what is wrong and where."""
    if not body:
        raise invalid_request([{"field": "body", "issue": "is empty: a JSON document is required"}])
    try:
        text = body.decode("utf-8")  # strict: JSON is UTF-8 (RFC 8259); json.loads would guess UTF-16/32
        if nested_deeper_than(text, NESTING_LIMIT):
            raise RecursionError  # refused unparsed: see NESTING_LIMIT
        document = json.loads(text, object_pairs_hook=object_from_pairs)
    except RecursionError:
        raise invalid_request([{"field": nesting_field, "issue": "is nested too deeply"}]) from None
    except UnicodeDecodeError as error:
        raise invalid_request(
            [{"field": "body", "issue": f"is not valid UTF-8 (byte {error.start})"}]
        ) from None
    except json.JSONDecodeError as error:
        raise invalid_request([{"field": "body", "issue": f"is not valid JSON: {error.msg}"}]) from None
    except ValueError:  # an integer with more digits than Python converts (sys.get_int_max_str_digits)
        raise invalid_request([{"field": "body", "issue": "holds a number too long to read"}]) from None
    issues = document_issues(document)
    if issues:
        raise invalid_request(issues)
    return document


class _BodySchema(GenerateJsonSchema):
    """pydantic's JSON schema, with objects whose keys follow a pattern said as ``propertyNames`` (pydantic
    writes ``patternProperties``, which lets keys that do not match through as unconstrained extras)."""

    def dict_schema(self, schema: Any) -> dict[str, Any]:
        json_schema = super().dict_schema(schema)
        patterns = json_schema.get("patternProperties") or {}
        if len(patterns) == 1 and "additionalProperties" not in json_schema:
            [(pattern, values)] = patterns.items()
            del json_schema["patternProperties"]
            json_schema.update(propertyNames={"pattern": pattern}, additionalProperties=values)
        return json_schema


COMPONENTS = "#/components/schemas/"


def _components(model: type[BaseModel]) -> dict[str, Any]:
    """The model's schema and every definition it refers to, as OpenAPI components by name."""
    schema = model.model_json_schema(ref_template=COMPONENTS + "{model}", schema_generator=_BodySchema)
    definitions = schema.pop("$defs", {})
    return {model.__name__: schema, **definitions}


class JsonBody(Generic[M]):
    """A route's JSON body as a dependency: ``body: Annotated[Model, Depends(MODEL_BODY)]``, with
    ``openapi_extra=MODEL_BODY.openapi`` and ``responses={**MODEL_BODY.responses, ...}`` on the route."""

    def __init__(
        self,
        model: type[M],
        max_bytes: int,
        too_large: Callable[[int], AppError] = body_too_large,
        *,
        description: str = "",
        nesting_field: str = "body",
    ) -> None:
        self.model = model
        self.max_bytes = max_bytes
        self.too_large = too_large
        self.nesting_field = nesting_field
        cap = f"At most {max_bytes} bytes (larger: 413); Content-Type {JSON_MEDIA_TYPE} only (else 415)."
        self.openapi: dict[str, Any] = {
            "requestBody": {
                "required": True,
                "description": f"{description} {cap}".strip(),
                "content": {JSON_MEDIA_TYPE: {"schema": {"$ref": COMPONENTS + model.__name__}}},
            },
            "x-max-body-bytes": max_bytes,
        }
        self.responses = error_responses(413, 415)
        self.components = _components(model)

    async def __call__(self, request: Request) -> M:
        require_json(request)
        body = await read_capped(request, self.max_bytes, lambda: self.too_large(self.max_bytes))
        document = parse_json(body, nesting_field=self.nesting_field)
        try:
            return self.model.model_validate(document)
        except ValidationError as error:
            raise invalid_request(validation_details(error.errors())) from None


def document_json_bodies(app: FastAPI) -> None:
    """Add the schemas of every ``JsonBody`` to the app's OpenAPI components (FastAPI documents the models
    of the bodies it reads itself; these it does not read)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        document = generate()  # cached by FastAPI after the first call: adding again changes nothing
        components = document.setdefault("components", {}).setdefault("schemas", {})
        for route in iter_route_contexts(app.routes):
            for dependency in getattr(getattr(route, "dependant", None), "dependencies", ()):
                if isinstance(dependency.call, JsonBody):
                    components.update(dependency.call.components)
        return document

    app.openapi = openapi  # type: ignore[method-assign]
