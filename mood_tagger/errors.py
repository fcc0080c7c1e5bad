"""The exception tree of mood-tagger.

    MoodTaggerError                 base of every error we raise on purpose
    ├── DataError                   a JSONL file or record breaks LABELS.md's format
    ├── InputError                  a request or CLI argument is unusable (maps to HTTP 4xx)
    ├── ModelError                  a model folder is missing, corrupt or incompatible
    └── BackendError                a tagging backend could not answer
        ├── UpstreamTimeout         the LLM server did not answer in time
        │   └── UpstreamBusy        too many LLM requests in flight: not sent at all
        ├── UpstreamHTTPError       the LLM server answered with an HTTP error
        └── UpstreamInvalidOutput   the LLM answered, but not with a valid tag / yes-no

Each message says what was expected, what was found and how to fix it.
"""


class MoodTaggerError(Exception):
    """Base class for all mood-tagger errors."""


class DataError(MoodTaggerError):
    """A data file or record is invalid; the message names file, line and field."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None,
                 field: str | None = None):
        where = ":".join(str(p) for p in (path, line) if p is not None)
        prefix = f"{where}: " if where else ""
        field_part = f"field '{field}': " if field else ""
        super().__init__(f"{prefix}{field_part}{message}")
        self.path, self.line, self.field = path, line, field


class InputError(MoodTaggerError):
    """An input to tag is unusable (wrong type, empty, too long); `param` names the request
    field when there is one (the OpenAI error's "param")."""

    def __init__(self, message: str, *, param: str | None = None):
        super().__init__(message)
        self.param = param


class ModelError(MoodTaggerError):
    """A model cannot be loaded or saved."""


class BackendError(MoodTaggerError):
    """A backend failed to produce a tag."""

    kind = "backend_error"


class UpstreamTimeout(BackendError):
    kind = "upstream_timeout"


class UpstreamBusy(UpstreamTimeout):
    """The LLM backend already has its maximum of requests in flight; this one was not sent."""
    kind = "upstream_busy"


class UpstreamHTTPError(BackendError):
    kind = "upstream_http_error"


class UpstreamInvalidOutput(BackendError):
    kind = "upstream_invalid_output"
