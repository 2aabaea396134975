"""Wire-model conformance: every response Shoal sends, checked against botocore's own
service models (the pinned botocore in .venv).

botocore's parsers are forgiving: they look up the members they know and silently drop
every other element, parse a list from whatever children it has, and accept almost any
timestamp. A misnamed field is therefore invisible to a test that only reads what it
expects. This module walks the raw body instead and reports every element or key that is
not where the operation's output shape puts it, scalar text that does not parse as its
type, enum values outside the model's list, lengths/values outside `min`/`max`, missing
`required` members, and error responses not in AWS's error shapes.

Hooks (one validator for both clients):
- boto3: `watch(client, log_path)` registers a `before-parse` handler on the client.
- aws CLI v1: this module is also a CLI plugin (`awscli_initialize`), loaded through a
  `[plugins]` section of the config file the harness generates; it logs to
  `$SHOAL_CONFORMANCE_LOG`.
Violations are appended as JSON lines to the log; `read_violations` reads them back.
"""
import base64
import binascii
import datetime
import json
import math
import os
import re
import xml.etree.ElementTree as ET

LOG_ENV = "SHOAL_CONFORMANCE_LOG"
SEEN_ENV = "SHOAL_CONFORMANCE_SEEN"  # optional: a file listing every operation checked

# Fields Shoal sends on purpose although the model does not have them:
# (service, structure shape, element or key) -> why. Empty: Shoal sends nothing extra.
ALLOWED_EXTRA = {}

# Members AWS itself sends as empty strings although their shape has `min: 1` (see
# `aws autoscaling describe-launch-configurations` in the CLI reference: "KernelId": "").
AWS_SENDS_EMPTY = {
    ("autoscaling", "LaunchConfiguration", "KernelId"),
    ("autoscaling", "LaunchConfiguration", "RamdiskId"),
    ("autoscaling", "LaunchConfiguration", "KeyName"),
}

# Enum values AWS itself sends outside the model's list: an internet gateway's attachment
# is `available` (EC2 API reference, InternetGatewayAttachment: "the state is available
# when attached to a VPC"), which botocore's AttachmentStatus does not list.
AWS_SENDS_OUTSIDE_ENUM = {
    ("AttachmentStatus", "available"),
}

ISO8601 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})$")
INTEGER = re.compile(r"^-?\d+$")
_ERROR_CODES = {}  # service name -> {code: {(HTTP status, Sender|Receiver)}}


def _tag(el):
    return el.tag.rsplit("}", 1)[-1]


def _ns(el):
    return el.tag[1:].split("}", 1)[0] if el.tag.startswith("{") else ""


def _text(el):
    return el.text or ""


class Checker:
    """Collects problems for one response: (path, problem) pairs."""

    def __init__(self, service_model):
        self.service = service_model.service_name
        self.protocol = service_model.resolved_protocol
        self.problems = []

    def bad(self, path, problem):
        self.problems.append((path, problem))

    # -- scalars and constraints, shared by XML and JSON ---------------------------------
    def bounds(self, shape, path, size, what):
        lo, hi = shape.metadata.get("min"), shape.metadata.get("max")
        if what == "count":
            lo = None  # AWS itself answers empty lists (`<Tags/>`) whose input shape needs one
        if lo is not None and size < lo:
            self.bad(path, f"{what} {size} below the model's min {lo} ({shape.name})")
        if hi is not None and size > hi:
            self.bad(path, f"{what} {size} above the model's max {hi} ({shape.name})")

    def string(self, shape, path, value):
        if shape.enum and value not in shape.enum and (shape.name, value) not in AWS_SENDS_OUTSIDE_ENUM:
            self.bad(path, f"{value!r} is not one of {shape.name}'s values {shape.enum}")
        self.bounds(shape, path, len(value), "length")

    def xml_scalar(self, shape, path, text):
        t = shape.type_name
        if t in ("string", "character"):
            self.string(shape, path, text)
        elif t in ("integer", "long"):
            if not INTEGER.match(text):
                self.bad(path, f"{text!r} is not an {t} ({shape.name})")
            else:
                self.bounds(shape, path, int(text), "value")
        elif t in ("double", "float"):
            try:
                v = float(text)
            except ValueError:
                self.bad(path, f"{text!r} is not a {t} ({shape.name})")
            else:
                if not math.isnan(v):
                    self.bounds(shape, path, v, "value")
        elif t == "boolean":
            if text not in ("true", "false"):
                self.bad(path, f"{text!r} is not a boolean (true|false)")
        elif t == "timestamp":
            if not ISO8601.match(text):
                self.bad(path, f"{text!r} is not an ISO 8601 timestamp")
        elif t == "blob":
            try:
                base64.b64decode(text, validate=True)
            except (binascii.Error, ValueError):
                self.bad(path, f"{text!r} is not base64")

    # -- XML (query, ec2) ----------------------------------------------------------------
    def member_names(self, shape):
        """XML element name -> member name, as botocore looks them up."""
        names = {}
        for name, m in shape.members.items():
            if m.serialization.get("xmlAttribute") or m.serialization.get("location"):
                continue
            xml = m.serialization.get("name", name)
            if m.type_name == "list" and m.serialization.get("flattened"):
                xml = m.member.serialization.get("name", xml)
            names[xml] = name
        return names

    def xml_structure(self, shape, el, path):
        if _text(el).strip():
            self.bad(path, f"text {_text(el).strip()[:40]!r} in structure {shape.name}")
        names = self.member_names(shape)
        seen = {}
        for child in el:
            tag = _tag(child)
            seen.setdefault(tag, []).append(child)
        for tag, children in seen.items():
            cpath = f"{path}/{tag}"
            if tag not in names:
                if (self.service, shape.name, tag) not in ALLOWED_EXTRA:
                    self.bad(cpath, f"unknown element in {shape.name} (botocore drops it)")
                continue
            m = shape.members[names[tag]]
            flattened = m.type_name == "list" and m.serialization.get("flattened")
            if flattened:
                self.bounds(m, cpath, len(children), "count")
                for i, c in enumerate(children):
                    self.xml_value(m.member, c, f"{cpath}[{i}]")
                continue
            if len(children) > 1:
                self.bad(cpath, f"repeated {len(children)} times; {shape.name}.{names[tag]} is a single {m.type_name}")
            if (self.service, shape.name, tag) in AWS_SENDS_EMPTY and not _text(children[0]) \
                    and not len(children[0]):
                continue
            self.xml_value(m, children[0], cpath)
        for name in shape.required_members:
            m = shape.members[name]
            xml = next((x for x, n in names.items() if n == name), None)
            if xml is not None and xml not in seen:
                self.bad(f"{path}/{xml}", f"required member {shape.name}.{name} missing")

    def xml_list(self, shape, el, path):
        if _text(el).strip():
            self.bad(path, f"text {_text(el).strip()[:40]!r} in list {shape.name}")
        default = "item" if self.protocol == "ec2" else "member"
        item = shape.member.serialization.get("name", default)
        children = list(el)
        self.bounds(shape, path, len(children), "count")
        for i, c in enumerate(children):
            if _tag(c) != item:
                self.bad(f"{path}/{_tag(c)}", f"list {shape.name} wraps its items in <{item}>")
                continue
            self.xml_value(shape.member, c, f"{path}/{item}[{i}]")

    def xml_map(self, shape, el, path):
        key = shape.key.serialization.get("name", "key")
        value = shape.value.serialization.get("name", "value")
        entries = [el] if shape.serialization.get("flattened") else list(el)
        for i, entry in enumerate(entries):
            epath = f"{path}/entry[{i}]"
            if not shape.serialization.get("flattened") and _tag(entry) != "entry":
                self.bad(f"{path}/{_tag(entry)}", f"map {shape.name} wraps its pairs in <entry>")
                continue
            tags = [_tag(c) for c in entry]
            if sorted(tags) != sorted([key, value]):
                self.bad(epath, f"map entry has {tags}, want <{key}> and <{value}>")
            for c in entry:
                if _tag(c) == key:
                    self.xml_value(shape.key, c, f"{epath}/{key}")
                elif _tag(c) == value:
                    self.xml_value(shape.value, c, f"{epath}/{value}")

    def xml_value(self, shape, el, path):
        t = shape.type_name
        if t == "structure":
            self.xml_structure(shape, el, path)
        elif t == "list":
            self.xml_list(shape, el, path)
        elif t == "map":
            self.xml_map(shape, el, path)
        else:
            if len(el):
                self.bad(path, f"{t} {shape.name} holds elements {[_tag(c) for c in el][:5]}")
                return
            self.xml_scalar(shape, path, _text(el))

    def xml_response(self, op, status, body):
        try:
            root = ET.fromstring(body)
        except ET.ParseError as e:
            self.bad("/", f"not XML: {e}")
            return
        if status >= 300:
            return self.xml_error(op, status, root)
        want = f"{op.name}Response"
        if _tag(root) != want:
            self.bad(f"/{_tag(root)}", f"root element should be <{want}>")
            return
        ns = op.service_model.metadata.get("xmlNamespace", "")
        if _ns(root).rstrip("/") != ns.rstrip("/"):
            self.bad(f"/{want}", f"namespace {_ns(root)!r}, want {ns!r}")
        shape = op.output_shape
        if self.protocol == "ec2":
            request_ids = [c for c in root if _tag(c) == "requestId"]
            if len(request_ids) != 1:
                self.bad(f"/{want}/requestId", f"{len(request_ids)} <requestId> elements, want 1")
            for c in request_ids:
                root.remove(c)
            # Real EC2 answers many actions with <return>true</return> that their output
            # models lack (CreateTags, CreateSecurityGroup: see the EC2 API reference).
            returns = [c for c in root if _tag(c) == "return"]
            if shape is None or "return" not in self.member_names(shape):
                for c in returns:
                    if _text(c) not in ("true", "false") or len(returns) > 1:
                        self.bad(f"/{want}/return", f"{_text(c)!r}: want one <return>true|false</return>")
                    root.remove(c)
            if shape is None:
                for c in root:
                    self.bad(f"/{want}/{_tag(c)}", "element in a response with no output shape")
            else:
                self.xml_structure(shape, root, f"/{want}")
            return
        wrapper = shape.serialization.get("resultWrapper") if shape is not None else None
        results = 0
        for c in root:
            tag = _tag(c)
            if tag == "ResponseMetadata":
                tags = [_tag(m) for m in c]
                if tags != ["RequestId"]:
                    self.bad(f"/{want}/ResponseMetadata", f"holds {tags}, want [RequestId]")
            elif wrapper is not None and tag == wrapper:
                results += 1
                self.xml_structure(shape, c, f"/{want}/{tag}")
            else:
                self.bad(f"/{want}/{tag}", f"unknown element (want {wrapper or 'no result'} and ResponseMetadata)")
        if wrapper is not None and results != 1:
            self.bad(f"/{want}/{wrapper}", f"{results} result elements, want 1 (botocore fails without it)")
        if not any(_tag(c) == "ResponseMetadata" for c in root):
            self.bad(f"/{want}/ResponseMetadata", "missing")

    def xml_error(self, op, status, root):
        if self.protocol == "ec2":
            # <Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>
            if _tag(root) != "Response":
                self.bad(f"/{_tag(root)}", "EC2 errors have root <Response>")
                return
            tags = [_tag(c) for c in root]
            if tags != ["Errors", "RequestID"]:
                self.bad("/Response", f"holds {tags}, want [Errors, RequestID]")
            for errors in (c for c in root if _tag(c) == "Errors"):
                if [_tag(e) for e in errors] != ["Error"]:
                    self.bad("/Response/Errors", f"holds {[_tag(e) for e in errors]}, want one Error")
                for e in errors:
                    self.error_fields(e, "/Response/Errors/Error", ["Code", "Message"], status)
            return
        # <ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>
        if _tag(root) != "ErrorResponse":
            self.bad(f"/{_tag(root)}", "Query errors have root <ErrorResponse>")
            return
        ns = op.service_model.metadata.get("xmlNamespace", "")
        if _ns(root) and _ns(root).rstrip("/") != ns.rstrip("/"):
            self.bad("/ErrorResponse", f"namespace {_ns(root)!r}, want {ns!r}")
        tags = [_tag(c) for c in root]
        if tags != ["Error", "RequestId"]:
            self.bad("/ErrorResponse", f"holds {tags}, want [Error, RequestId]")
        for e in (c for c in root if _tag(c) == "Error"):
            self.error_fields(e, "/ErrorResponse/Error", ["Type", "Code", "Message"], status)

    def error_fields(self, el, path, want, status):
        fields = {_tag(c): _text(c) for c in el}
        if sorted(fields) != sorted(want):
            self.bad(path, f"holds {list(fields)}, want {want}")
        if "Type" in fields and fields["Type"] not in ("Sender", "Receiver"):
            self.bad(f"{path}/Type", f"{fields['Type']!r} is not Sender|Receiver")
        self.modeled_error(path, fields.get("Code", ""), fields.get("Type"), status)

    def modeled_error(self, path, code, fault, status):
        """A code the model declares must come with its HTTP status and fault."""
        if not code:
            self.bad(path, "error without a code")
            return
        declared = self.error_codes().get(code)
        if not declared:
            return
        if not any(status == s and (fault is None or fault == f) for s, f in declared):
            self.bad(path, f"{code} comes with status/fault {sorted(declared)}, got {status}/{fault}")

    def error_codes(self):
        model = self._service_model
        if model.service_name in _ERROR_CODES:
            return _ERROR_CODES[model.service_name]
        codes = _ERROR_CODES[model.service_name] = {}
        for name in model.shape_names:
            shape = model.shape_for(name)
            err = shape.metadata.get("error")
            if shape.metadata.get("exception") and err:
                fault = "Sender" if err.get("senderFault") else "Receiver"
                codes.setdefault(err.get("code", name), set()).add((err.get("httpStatusCode", 400), fault))
        return codes

    # -- JSON 1.0 and rpc-v2-cbor (CloudWatch) ------------------------------------------
    def doc_value(self, shape, v, path, cbor):
        t = shape.type_name
        if v is None:
            self.bad(path, "null (AWS omits absent members)")
            return
        if t == "structure":
            if not isinstance(v, dict):
                self.bad(path, f"{type(v).__name__}, want an object ({shape.name})")
                return
            names = {m.serialization.get("name", n): n for n, m in shape.members.items()}
            for k, item in v.items():
                if k not in names:
                    if (self.service, shape.name, k) not in ALLOWED_EXTRA:
                        self.bad(f"{path}/{k}", f"unknown key in {shape.name} (botocore drops it)")
                    continue
                self.doc_value(shape.members[names[k]], item, f"{path}/{k}", cbor)
            for name in shape.required_members:
                if shape.members[name].serialization.get("name", name) not in v:
                    self.bad(f"{path}/{name}", f"required member {shape.name}.{name} missing")
        elif t == "list":
            if not isinstance(v, list):
                self.bad(path, f"{type(v).__name__}, want an array ({shape.name})")
                return
            self.bounds(shape, path, len(v), "count")
            for i, item in enumerate(v):
                self.doc_value(shape.member, item, f"{path}[{i}]", cbor)
        elif t == "map":
            if not isinstance(v, dict):
                self.bad(path, f"{type(v).__name__}, want an object ({shape.name})")
                return
            self.bounds(shape, path, len(v), "count")
            for k, item in v.items():
                self.doc_value(shape.key, k, f"{path}{{{k}}}", cbor)
                self.doc_value(shape.value, item, f"{path}/{k}", cbor)
        elif t in ("string", "character"):
            if not isinstance(v, str):
                self.bad(path, f"{v!r} is not a string ({shape.name})")
            else:
                self.string(shape, path, v)
        elif t in ("integer", "long"):
            if isinstance(v, bool) or not isinstance(v, int):
                self.bad(path, f"{v!r} is not an {t} ({shape.name})")
            else:
                self.bounds(shape, path, v, "value")
        elif t in ("double", "float"):
            specials = ("NaN", "Infinity", "-Infinity")
            if isinstance(v, bool) or not (isinstance(v, (int, float)) or v in specials):
                self.bad(path, f"{v!r} is not a {t} ({shape.name})")
            elif not isinstance(v, str) and not math.isnan(v):
                self.bounds(shape, path, v, "value")
        elif t == "boolean":
            if not isinstance(v, bool):
                self.bad(path, f"{v!r} is not a boolean")
        elif t == "timestamp":
            if cbor:
                if not isinstance(v, datetime.datetime):
                    self.bad(path, f"{v!r} is not a CBOR tag-1 timestamp")
            elif isinstance(v, bool) or not isinstance(v, (int, float)):
                self.bad(path, f"{v!r} is not epoch seconds (JSON 1.0 timestamps are numbers)")
        elif t == "blob":
            if cbor and not isinstance(v, bytes):
                self.bad(path, f"{v!r} is not a byte string")
            elif not cbor:
                try:
                    base64.b64decode(v, validate=True)
                except (binascii.Error, ValueError, TypeError):
                    self.bad(path, f"{v!r} is not base64")

    def doc_response(self, op, status, headers, body, cbor):
        if not headers.get("x-amzn-requestid"):
            self.bad("/", "no x-amzn-RequestId header")
        try:
            if cbor:
                import cbor2
                doc = cbor2.loads(body) if body else {}
            else:
                doc = json.loads(body) if body else {}
        except Exception as e:  # noqa: BLE001 - any decode failure is the finding
            self.bad("/", f"not {'CBOR' if cbor else 'JSON'}: {e}")
            return
        if status >= 300:
            if not isinstance(doc, dict) or not isinstance(doc.get("__type"), str) \
                    or not isinstance(doc.get("message"), str):
                self.bad("/", f"error body {doc!r}, want __type and message")
            query = headers.get("x-amzn-query-error", "")
            code, _, fault = query.partition(";")
            if not code or fault not in ("Sender", "Receiver"):
                self.bad("/x-amzn-query-error", f"header {query!r}, want Code;Sender|Receiver")
            self.modeled_error("/", code, fault or None, status)
            return
        if op.output_shape is None:
            if doc not in ({}, None):
                self.bad("/", f"body {doc!r} for an operation with no output")
            return
        self.doc_value(op.output_shape, doc, "", cbor)

    def response(self, op, status, headers, body):
        self._service_model = op.service_model
        headers = {k.lower(): v for k, v in headers.items()}
        if self.protocol in ("query", "ec2"):
            self.xml_response(op, status, body)
        elif self.protocol == "json":
            self.doc_response(op, status, headers, body, cbor=False)
        elif self.protocol == "smithy-rpc-v2-cbor":
            self.doc_response(op, status, headers, body, cbor=True)
        return self.problems


def check(operation_model, status, headers, body):
    """Every problem with one raw response: a list of (path, problem)."""
    return Checker(operation_model.service_model).response(operation_model, status, headers, body)


def _record(log_path, via, operation_model, response_dict):
    body = response_dict.get("body")
    if not isinstance(body, (bytes, str)):
        return  # streaming bodies: none of these services has one
    if isinstance(body, str):
        body = body.encode()
    seen = os.environ.get(SEEN_ENV)
    if seen:  # coverage: which operations (and outcomes) the suite had checked
        with open(seen, "a") as f:
            f.write(f"{operation_model.service_model.service_name}.{operation_model.name} "
                    f"{response_dict['status_code']}\n")
    try:
        problems = check(operation_model, response_dict["status_code"], response_dict["headers"], body)
    except Exception as e:  # noqa: BLE001 - a checker crash must surface, not hide
        problems = [("/", f"checker crashed: {e!r}")]
    if not problems:
        return
    op = f"{operation_model.service_model.service_name}.{operation_model.name}"
    with open(log_path, "a") as f:
        for path, problem in problems:
            f.write(json.dumps({"via": via, "operation": op, "status": response_dict["status_code"],
                                "path": path, "problem": problem}) + "\n")


def watch(client, log_path):
    """Checks every response `client` receives; violations go to `log_path`."""
    def handler(operation_model, response_dict, **_):
        _record(log_path, "boto3", operation_model, response_dict)
    client.meta.events.register("before-parse", handler)
    return client


def awscli_initialize(event_hooks):
    """aws CLI v1 plugin entry point (`[plugins] shoal_conformance = conformance`)."""
    log_path = os.environ.get(LOG_ENV)
    if not log_path:
        return

    def handler(operation_model, response_dict, **_):
        _record(log_path, "aws-cli", operation_model, response_dict)
    event_hooks.register("before-parse", handler)


def read_violations(log_path):
    """Distinct violations recorded in `log_path`, as readable lines."""
    try:
        with open(log_path) as f:
            rows = [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []
    out = []
    for r in rows:
        line = f"{r['operation']} ({r['via']}, HTTP {r['status']}) {r['path']}: {r['problem']}"
        if line not in out:
            out.append(line)
    return out
