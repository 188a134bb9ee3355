"""The CalDAV server's HTTP methods: one function each, on one catch-all route.

Paths under the blueprint: ``/`` (the DAV root), ``principals/<id>/``, ``calendars/<id>/``
(the home), ``calendars/<id>/<collection>/`` and ``calendars/<id>/<collection>/<id>.ics``. A
path of another user's is a 404, whatever it names, as is anything unknown.
"""

from __future__ import annotations

import functools
import importlib
import logging
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from cardcrm.common.db import get_session, write_transaction
from cardcrm.common.translate import gettext as _
from flask import Blueprint, Response, current_app, request

from .. import mirror
from ..context import CalendarContext
from .cache import AnswerCache
from .props import (
    CALENDAR_DATA,
    GETETAG,
    Resource,
    calendar_object,
    collection_resource,
    home_resource,
    principal_resource,
    root_resource,
)
from .reports import Filter, matches, read_filter
from .store import COLLECTIONS, Collections, DavObject, InvalidSyncToken, etag_of
from .xml import (
    CALDAV,
    DAV,
    BadXml,
    Multistatus,
    children,
    empty,
    error_body,
    name,
    parse,
    requested_props,
    text_element,
)

log = logging.getLogger(__name__)

bp = Blueprint("dav", __name__, url_prefix="/dav")

METHODS = ["OPTIONS", "PROPFIND", "PROPPATCH", "REPORT", "GET", "HEAD", "PUT", "DELETE"]
METHODS += ["MKCOL", "MKCALENDAR", "MOVE", "COPY", "POST"]
ALLOW = "OPTIONS, PROPFIND, PROPPATCH, REPORT, GET, HEAD, PUT, DELETE"
XML_TYPE = "application/xml; charset=utf-8"
OBJECT_NAME = re.compile(r"([1-9][0-9]{0,17})\.ics")


class DavError(Exception):
    """An answer other than success: its status, the precondition that failed, a message."""

    def __init__(
        self,
        status: int,
        message: str = "",
        condition: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.condition = status, message, condition
        self.headers = headers or {}

    def response(self) -> Response:
        if self.condition:
            body, kind = error_body(self.condition, self.message), XML_TYPE
        else:
            body, kind = self.message.encode(), "text/plain; charset=utf-8"
        return Response(body, self.status, headers=self.headers, content_type=kind)


@dataclass
class Target:
    """What a path names: ``kind`` root, principals, principal, home, collection or object."""

    kind: str
    user_id: int | None = None
    collection: str | None = None
    object_name: str | None = None

    @property
    def task_id(self) -> int | None:
        match = OBJECT_NAME.fullmatch(self.object_name or "")
        return int(match.group(1)) if match else None

    @property
    def component(self) -> str:
        return COLLECTIONS[self.collection or "tasks"]


def resolve(path: str) -> Target:
    parts = [part for part in path.split("/") if part]
    if not parts:
        return Target("root")
    if parts[0] == "principals":
        if len(parts) == 1:
            return Target("principals")
        if len(parts) == 2 and parts[1].isdigit():
            return Target("principal", int(parts[1]))
    if parts[0] == "calendars" and len(parts) >= 2 and parts[1].isdigit():
        user_id = int(parts[1])
        if len(parts) == 2:
            return Target("home", user_id)
        if parts[2] in COLLECTIONS:
            if len(parts) == 3:
                return Target("collection", user_id, parts[2])
            if len(parts) == 4:
                return Target("object", user_id, parts[2], parts[3])
    raise DavError(404, _("Not found."))


# --- the route ----------------------------------------------------------------------------


@bp.route("/", defaults={"path": ""}, methods=METHODS)
@bp.route("/<path:path>", methods=METHODS)
def dav(path: str) -> Response:
    try:
        if request.method == "OPTIONS":
            return options()
        user = current_dav_user()  # first: any path asks who is there (401)
        target = resolve(path)
        if target.user_id is not None and target.user_id != int(user["id"]):
            raise DavError(404, _("Not found."))
        context: CalendarContext = current_app.extensions["calendar_sync"]
        session = get_session()
        if context.catching_up(session):
            raise DavError(
                503,
                _("The calendar is catching up; try again shortly."),
                None,
                {"Retry-After": "30"},
            )
        view = View(context, Collections(session, context, user, context.clock()), target)
        handler = HANDLERS.get(request.method)
        if handler is None:
            raise DavError(405, _("Not allowed here."), None, {"Allow": ALLOW})
        if target.kind == "collection" and request.method in CACHED:
            return cached(view, handler)
        return handler(view)
    except DavError as error:
        return error.response()
    except BadXml as error:
        return DavError(400, str(error)).response()


#: Methods whose answers on a collection depend on nothing but the request and the
#: collection's sync token (``cache.py``).
CACHED = {"PROPFIND", "REPORT", "GET"}


def cached(view: View, handler: Any) -> Response:
    # one per app: each app is one database (tests run several in one process)
    answers = current_app.extensions.setdefault("calendar_sync_dav_answers", AnswerCache())
    key = answers.key(
        view.store.user_id,
        view.store.sync_token(),
        request.method,
        request.script_root,
        request.path,
        request.headers.get("Depth", ""),
        request.get_data(),
    )
    kept = answers.get(key)
    if kept is not None:
        status, content_type, etag = 207, XML_TYPE, None
        if request.method == "GET":
            status, content_type, etag = 200, "text/calendar; charset=utf-8", etag_of(kept)
        response = Response(kept, status, content_type=content_type)
        if etag:
            response.headers["ETag"] = etag
        return response
    response = handler(view)
    if response.status_code in (200, 207):
        answers.put(key, response.get_data())
    return response


def current_dav_user() -> dict[str, Any]:
    """The caller (``auth.dav_user``), or a ``DavError`` with the auth module's answer."""
    # written beside this package by its own change; imported when first asked
    auth: Any = importlib.import_module(f"{__package__}.auth")
    try:
        return auth.dav_user()
    except auth.DavAuthError as error:
        raise DavError(error.status, str(error), None, dict(error.headers or {})) from None


def options() -> Response:
    return Response(
        status=200,
        headers={"DAV": "1, 3, calendar-access", "Allow": ALLOW, "Content-Length": "0"},
    )


# --- one request's view of the user's resources -------------------------------------------


@dataclass
class View:
    context: CalendarContext
    store: Collections
    target: Target

    @functools.cached_property
    def base(self) -> str:
        return f"{request.script_root}{bp.url_prefix}"

    def principal_href(self) -> str:
        return f"{self.base}/principals/{self.store.user_id}/"

    def home_href(self) -> str:
        return f"{self.base}/calendars/{self.store.user_id}/"

    def collection_href(self, collection: str) -> str:
        return f"{self.home_href()}{collection}/"

    def display(self, collection: str) -> str:
        with self.context.renderer.speaking(self.store.language):
            return _("Tasks") if collection == "tasks" else _("Deadlines")

    def resource(self, target: Target) -> Resource:
        user = self.store.user
        if target.kind in ("root", "principals"):
            href = self.base + ("/" if target.kind == "root" else "/principals/")
            return root_resource(href, self.principal_href())
        if target.kind == "principal":
            return principal_resource(self.principal_href(), user, self.home_href())
        if target.kind == "home":
            display = user.get("name") or user.get("email") or "cardcrm"
            return home_resource(self.home_href(), self.principal_href(), display)
        assert target.collection is not None
        if target.kind == "collection":
            return self.collection_resource(target.collection)
        obj = self.object(target)
        return self.object_resource(target.collection, obj)

    def collection_resource(self, collection: str) -> Resource:
        token: list[str] = []

        def sync_token() -> str:
            if not token:
                token.append(self.store.sync_token())
            return token[0]

        return collection_resource(
            self.collection_href(collection),
            self.principal_href(),
            collection,
            COLLECTIONS[collection],
            self.display(collection),
            sync_token,
        )

    def object_resource(self, collection: str, obj: DavObject) -> Resource:
        return calendar_object(
            f"{self.collection_href(collection)}{obj.task_id}.ics",
            obj.etag,
            COLLECTIONS[collection],
            lambda: obj.body,
            len(obj.body),
        )

    def add_objects(
        self,
        answer: Multistatus,
        collection: str,
        objects: list[DavObject],
        wanted: list[str] | None,
    ) -> None:
        """The responses of many objects: ``object_resource``'s answers, made without a
        resource each (a calendar-query of a whole collection is thousands of them)."""
        prefix = self.collection_href(collection)
        if not objects:
            return
        names = list(self.object_resource(collection, objects[0]).props)
        asked = [prop for prop in names if prop != CALENDAR_DATA] if wanted is None else wanted
        missing = [prop for prop in asked if prop not in names]
        simple = [prop for prop in asked if prop in names]
        if simple == [GETETAG, CALENDAR_DATA]:
            answer.add_calendar_data(
                prefix, ((obj.task_id, obj.etag, obj.body) for obj in objects), missing
            )
            return
        for obj in objects:
            found, unknown = self.object_resource(collection, obj).answer(asked)
            answer.add(f"{prefix}{obj.task_id}.ics", found, unknown)

    def object(self, target: Target) -> DavObject:
        task_id = target.task_id
        found = self.store.one(target.component, task_id) if task_id is not None else None
        if found is None:
            raise DavError(404, _("Not found."))
        return found

    def members(self, target: Target) -> list[Resource]:
        """The resources one level below ``target`` (PROPFIND's ``Depth: 1``)."""
        if target.kind == "root":
            return [self.resource(Target("principal", self.store.user_id))]
        if target.kind == "principals":
            return [self.resource(Target("principal", self.store.user_id))]
        if target.kind == "home":
            return [self.collection_resource(collection) for collection in COLLECTIONS]
        if target.kind == "collection":
            assert target.collection is not None
            return [
                self.object_resource(target.collection, obj)
                for obj in self.store.objects(target.component)
            ]
        return []


# --- methods ----------------------------------------------------------------------------------


def propfind(view: View) -> Response:
    depth = request.headers.get("Depth", "infinity").strip().lower()
    body = request.get_data()
    wanted: list[str] | None = None
    names_only = False
    if body.strip():
        root = parse(body)
        if root.tag != name(DAV, "propfind"):
            raise BadXml(_("A PROPFIND's body is a DAV:propfind."))
        for child in children(root):
            if child.tag == name(DAV, "prop"):
                wanted = requested_props(child)
            elif child.tag == name(DAV, "propname"):
                names_only = True
    resources = [view.resource(view.target)]
    if depth != "0":
        resources += view.members(view.target)
    answer = Multistatus()
    for resource in resources:
        if names_only:
            answer.add(resource.href, [empty(key) for key in resource.props])
            continue
        found, missing = resource.answer(wanted)
        answer.add(resource.href, found, missing)
    return multistatus_response(answer)


def proppatch(view: View) -> Response:
    """Nothing here can be changed by a client (the names and colours are cardcrm's): every
    property asked for is refused, as RFC 4918 §9.2 says, with a 403 each."""
    view.resource(view.target)
    root = parse(request.get_data())
    if root.tag != name(DAV, "propertyupdate"):
        raise BadXml(_("A PROPPATCH's body is a DAV:propertyupdate."))
    asked = [
        prop
        for action in children(root)
        for container in children(action)
        if container.tag == name(DAV, "prop")
        for prop in requested_props(container)
    ]
    answer = Multistatus()
    answer.add(request.path, forbidden=asked)
    return multistatus_response(answer)


def report(view: View) -> Response:
    root = parse(request.get_data())
    if view.target.kind not in ("collection", "object"):
        raise DavError(403, _("Reports are for calendars."), name(DAV, "supported-report"))
    if root.tag == name(CALDAV, "calendar-multiget"):
        return multiget(view, root)
    if root.tag == name(CALDAV, "calendar-query"):
        return calendar_query(view, root)
    if root.tag == name(DAV, "sync-collection"):
        return sync_collection(view, root)
    raise DavError(403, _("This report is not supported."), name(DAV, "supported-report"))


def _wanted(root: Any) -> list[str] | None:
    for child in children(root):
        if child.tag == name(DAV, "prop"):
            return requested_props(child)
        if child.tag == name(DAV, "allprop"):
            return None
    return [name(DAV, "getetag")]


def multiget(view: View, root: Any) -> Response:
    target = view.target
    collection = target.collection
    assert collection is not None
    prefix = view.collection_href(collection)
    wanted = _wanted(root)
    hrefs = [child.text or "" for child in children(root) if child.tag == name(DAV, "href")]
    asked: dict[str, int | None] = {}
    for href in hrefs:
        path = unquote(urlsplit(href.strip()).path)
        member = path[len(prefix) :] if path.startswith(prefix) else None
        match = OBJECT_NAME.fullmatch(member or "")
        asked[href.strip()] = int(match.group(1)) if match else None
    found = {
        obj.task_id: obj
        for obj in view.store.objects(
            target.component, [task for task in asked.values() if task is not None]
        )
    }
    answer = Multistatus()
    for href, task_id in asked.items():
        obj = found.get(task_id) if task_id is not None else None
        if obj is None:
            answer.add(href, status=404)
            continue
        present, missing = view.object_resource(collection, obj).answer(wanted)
        answer.add(href, present, missing)
    return multistatus_response(answer)


def calendar_query(view: View, root: Any) -> Response:
    target = view.target
    collection = target.collection
    assert collection is not None
    query: Filter = read_filter(root, target.component)
    wanted = _wanted(root)
    answer = Multistatus()
    if query.possible:
        if target.kind == "object":
            objects = [view.object(target)]
        else:
            objects = view.store.objects(target.component)
        kind = target.component
        span = view.store.span
        chosen = [
            obj for obj in objects if matches(query, obj, functools.partial(span, kind, obj), kind)
        ]
        view.add_objects(answer, collection, chosen, wanted)
    return multistatus_response(answer)


def sync_collection(view: View, root: Any) -> Response:
    target = view.target
    if target.kind != "collection":
        raise DavError(403, "sync-collection is for calendars.", name(DAV, "supported-report"))
    collection = target.collection
    assert collection is not None
    token = ""
    for child in children(root):
        if child.tag == name(DAV, "sync-token"):
            token = (child.text or "").strip()
    try:
        changed, current = view.store.changes_since(token)
    except InvalidSyncToken:
        raise DavError(
            403, _("This sync token is not valid (any more)."), name(DAV, "valid-sync-token")
        ) from None
    wanted = _wanted(root)
    answer = Multistatus()
    present = {obj.task_id: obj for obj in view.store.objects(target.component, changed)}
    prefix = view.collection_href(collection)
    for task_id in sorted(changed):
        obj = present.get(task_id)
        if obj is None:
            answer.add(f"{prefix}{task_id}.ics", status=404)
            continue
        found, missing = view.object_resource(collection, obj).answer(wanted)
        answer.add(f"{prefix}{task_id}.ics", found, missing)
    answer.tail = text_element("D", "sync-token", current)
    return multistatus_response(answer)


def get(view: View) -> Response:
    target = view.target
    if target.kind == "object":
        obj = view.object(target)
        return calendar_response(obj.body, obj.etag)
    if target.kind == "collection":
        objects = view.store.objects(target.component)
        head = view.store.head()
        body = head + b"".join(obj.component.encode() for obj in objects) + b"END:VCALENDAR\r\n"
        return calendar_response(body, etag_of(body))
    raise DavError(405, _("Use a CalDAV client here."), None, {"Allow": ALLOW})


def calendar_response(body: bytes, etag: str) -> Response:
    response = Response(body, 200, content_type="text/calendar; charset=utf-8")
    response.headers["ETag"] = etag
    response.headers["Cache-Control"] = "private, no-cache"
    if request.method == "HEAD":
        response.set_data(b"")
        response.headers["Content-Length"] = str(len(body))
    return response


def multistatus_response(answer: Multistatus) -> Response:
    return Response(answer.body(), 207, content_type=XML_TYPE)


# --- writes ---------------------------------------------------------------------------------


def _tags(header: str | None) -> list[str] | None:
    if header is None:
        return None
    return [tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()]


def check_preconditions(obj: DavObject | None) -> None:
    """``If-Match`` and ``If-None-Match`` against the object as it is now (RFC 7232)."""
    if_match = _tags(request.headers.get("If-Match"))
    if if_match is not None and (obj is None or not ("*" in if_match or obj.etag in if_match)):
        raise DavError(412, _("The object changed since you read it."))
    if_none_match = _tags(request.headers.get("If-None-Match"))
    if (
        if_none_match is not None
        and obj is not None
        and ("*" in if_none_match or obj.etag in if_none_match)
    ):
        raise DavError(412, _("The object is there already."))


def put(view: View) -> Response:
    target = view.target
    if target.kind != "object":
        raise DavError(405, _("Objects are put into a calendar."), None, {"Allow": ALLOW})
    collection = target.collection
    assert collection is not None
    obj = view.store.one(target.component, target.task_id) if target.task_id else None
    check_preconditions(obj)
    shown = view.store.task(obj.task_id) if obj is not None else None
    current = dict(shown[0].data) if shown is not None else None
    body = request.get_data()
    writes = _writes()
    try:
        task = writes.apply_put(view.store.user, collection, current, body)
    except writes.DavRefusal as refusal:
        raise DavError(refusal.status, refusal.message, refusal.condition) from None
    _keep(view, task)
    stored = view.store.one(target.component, int(task["id"]))
    headers: dict[str, str] = {}
    href = f"{view.collection_href(collection)}{task['id']}.ics"
    if obj is None and target.task_id != int(task["id"]):
        headers["Location"] = href  # the object lives under its task's id
    if stored is not None and stored.body == body and "Location" not in headers:
        headers["ETag"] = stored.etag
    return Response(status=201 if obj is None else 204, headers=headers)


def delete(view: View) -> Response:
    target = view.target
    if target.kind != "object":
        raise DavError(403, _("Calendars cannot be deleted here."), name(DAV, "need-privileges"))
    obj = view.object(target)
    check_preconditions(obj)
    shown = view.store.task(obj.task_id)
    if shown is None:
        raise DavError(404, _("Not found."))
    writes = _writes()
    try:
        task = writes.apply_delete(view.store.user, dict(shown[0].data))
    except writes.DavRefusal as refusal:
        raise DavError(refusal.status, refusal.message, refusal.condition) from None
    _keep(view, task, gone=obj.task_id)
    return Response(status=204)


def _writes() -> Any:
    try:
        return importlib.import_module(f"{__package__}.writes")  # written beside this package
    except ImportError:
        raise DavError(
            403, _("This calendar is read-only."), name(DAV, "need-privileges")
        ) from None


def _keep(view: View, task: dict[str, Any] | None, gone: int | None = None) -> None:
    """Put core's answer into the mirror at once, so that the next GET shows it (the event
    that follows is older or the same version, and changes nothing)."""
    session = view.store.session
    view.store._newest = None  # the change log grows here
    with write_transaction(session):
        if task and "version" in task and not task.get("deleted"):
            mirror.apply_task(session, task)
        elif gone is not None:
            mirror.remove_tasks(session, [gone], view.context.clock())


HANDLERS = {
    "PROPFIND": propfind,
    "PROPPATCH": proppatch,
    "REPORT": report,
    "GET": get,
    "HEAD": get,
    "PUT": put,
    "DELETE": delete,
}
