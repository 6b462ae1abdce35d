"""The quickstart's embedded corpus: documentation that ships with CPython itself.

Documents are the pydoc topics (``pydoc_data.topics``, the text of the language reference)
and one document per public class and function of a fixed list of standard-library modules,
with docs.python.org URLs. It holds real duplicates: ``collections.abc`` re-exports
``_collections_abc`` and ``os.path`` is ``posixpath`` (exact copies), while ``_pyio`` /
``io`` and ``_pydecimal`` / ``decimal`` document the same API in slightly different words
(near copies).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import sys

MODULES = (
    "abc argparse array ast asyncio base64 bisect calendar cmath codecs collections collections.abc "
    "_collections_abc colorsys concurrent.futures configparser contextlib copy csv dataclasses datetime "
    "decimal _pydecimal difflib dis email.message enum filecmp fnmatch fractions ftplib functools gettext "
    "glob gzip hashlib heapq hmac html html.parser http.client http.server imaplib inspect io _pyio "
    "ipaddress itertools json keyword linecache logging lzma mailbox math mimetypes numbers operator os "
    "os.path posixpath pathlib pickle pkgutil platform plistlib pprint queue quopri random re reprlib sched "
    "secrets selectors shlex shutil smtplib socket sqlite3 statistics string struct subprocess tarfile "
    "tempfile textwrap threading time timeit tokenize traceback types typing urllib.parse urllib.request "
    "uuid warnings weakref xml.etree.ElementTree zipfile zlib"
).split()
PUBLIC_NAME = {"_pyio": "io", "_pydecimal": "decimal", "_collections_abc": "collections.abc",
               "posixpath": "os.path"}
BASE_URL = f"https://docs.python.org/{sys.version_info.major}.{sys.version_info.minor}"
MIN_CHARS = 200  # shorter docstrings make poor documents


class _Opaque:
    def __repr__(self) -> str:
        return "..."


def _stable_default(param: inspect.Parameter) -> inspect.Parameter:
    """Defaults whose repr shows runtime state (addresses, live objects) differ between processes."""
    if param.default is not inspect.Parameter.empty and "<" in repr(param.default):
        return param.replace(default=_Opaque())
    return param


def _signature(obj) -> str:
    try:
        sig = inspect.signature(obj)
        return str(sig.replace(parameters=[_stable_default(p) for p in sig.parameters.values()]))
    except (TypeError, ValueError):
        return "(...)"


def _from_stdlib(obj) -> bool:
    """Third-party libraries patch stdlib classes (transformers adds Logger.warning_once), which
    would make the corpus depend on what else the process imported."""
    module = getattr(obj, "__module__", None) or "builtins"
    return module.split(".")[0].lstrip("_") in {m.lstrip("_") for m in sys.stdlib_module_names}


def _render(qualname: str, obj) -> str:
    parts = [f"{qualname}{_signature(obj)}", inspect.getdoc(obj) or ""]
    if inspect.isclass(obj):
        for name, member in sorted(vars(obj).items()):
            if name.startswith("_") or not callable(member) or not _from_stdlib(member):
                continue
            doc = inspect.getdoc(member)
            if doc:
                parts.append(f"{qualname}.{name}{_signature(member)}\n    " + doc.replace("\n", "\n    "))
    return "\n\n".join(p for p in parts if p).strip()


@functools.cache
def python_docs() -> tuple[dict, ...]:
    """Deterministic for a given Python build: sorted by id."""
    from pydoc_data.topics import topics

    docs = {}
    for topic, text in topics.items():
        docs[f"pydoc-topic:{topic}"] = {"text": text.strip(), "url": f"{BASE_URL}/search.html?q={topic}"}
    for module_name in MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        public = PUBLIC_NAME.get(module_name, module_name)
        if (inspect.getdoc(module) or "") and len(inspect.getdoc(module)) >= MIN_CHARS:
            docs[f"module:{module_name}"] = {"text": inspect.getdoc(module),
                                             "url": f"{BASE_URL}/library/{public}.html"}
        names = getattr(module, "__all__", None) or [n for n in dir(module) if not n.startswith("_")]
        for name in sorted(set(names)):
            obj = getattr(module, name, None)
            if not (inspect.isclass(obj) or inspect.isroutine(obj)) or not inspect.getdoc(obj) \
                    or not _from_stdlib(obj):
                continue
            text = _render(name, obj)
            if len(text) >= MIN_CHARS:
                docs[f"{module_name}.{name}"] = {"text": text,
                                                 "url": f"{BASE_URL}/library/{public}.html#{public}.{name}"}
    return tuple({"id": k, **v} for k, v in sorted(docs.items()))
