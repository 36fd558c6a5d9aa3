"""The names a sweep may give `student.arch` / `teacher.arch` and `data.name`, known without torch.

The engine registers models with `@MODELS.register("digits_student", ...)` and data sets with
`@dataset("digits", ...)`; those decorators stay the one place a name is declared. The plan
reads the literal names from the decorators' syntax tree (as `spec.entries` reads spec blocks),
so `kdsweep plan` rejects a misspelt arch or data set without importing torch.

torchvision models (any classification builder, found by the engine's fallback) are read the
same way: the builders torchvision marks `@register_model()` in the files of its `models`
package (not its detection / segmentation / video subpackages, as `list_models(module=
torchvision.models)` does), found with `importlib.util.find_spec`, never imported. When
torchvision is not installed, only kdsweep's own names are known. tests/spec/test_names.py
checks these lists against the engine's registries and torchvision's `list_models`.
"""

from __future__ import annotations

import ast
import importlib.util
import re
from functools import lru_cache
from pathlib import Path

from kdsweep.errors import UserError, did_you_mean
from kdsweep.spec.entries import PACKAGE_ROOT
from kdsweep.spec.signature import Signature

MODEL_FILES = PACKAGE_ROOT / "engine" / "models"
DATASET_FILES = PACKAGE_ROOT / "engine" / "data"
# A torchvision builder: `@register_model()` (maybe with arguments, maybe more decorators) then `def name`.
_TORCHVISION_BUILDER = re.compile(r"^@register_model\([^)]*\)\s*\n(?:@.*\n)*def (\w+)", re.MULTILINE)


def _decorated(folder: Path, decorator: str, flag: str | None = None) -> dict[str, ast.FunctionDef | ast.ClassDef]:
    """What `folder`'s modules register with `@<decorator>("name", ...)` (no name: the function's), by
    name, with the decorated definition; with `flag`, only those registered with `flag=True`."""
    found: dict[str, ast.FunctionDef | ast.ClassDef] = {}
    for path in sorted(folder.glob("*.py")):
        text = path.read_text()
        if decorator.split(".")[-1] + "(" not in text:  # most files register nothing: skip the parse
            continue
        for node in ast.walk(ast.parse(text, filename=str(path))):
            if not isinstance(node, ast.FunctionDef | ast.ClassDef):
                continue
            for dec in node.decorator_list:
                if isinstance(dec, ast.Call) and ast.unparse(dec.func) == decorator:
                    if flag and not any(k.arg == flag and isinstance(k.value, ast.Constant) and k.value.value is True
                                        for k in dec.keywords):
                        continue
                    first = dec.args[0] if dec.args else None
                    if first is None:
                        found[node.name] = node
                    elif isinstance(first, ast.Constant) and isinstance(first.value, str):
                        found[first.value] = node
                    else:  # a developer's mistake: the plan could not check the name
                        raise RuntimeError(f"{path}:{dec.lineno}: register with a literal name string")
    return found


def _decorated_names(folder: Path, decorator: str, flag: str | None = None) -> list[str]:
    return list(_decorated(folder, decorator, flag))


@lru_cache(maxsize=1)
def kdsweep_model_signatures() -> dict[str, Signature]:
    """Each kdsweep model's factory parameters, for checking `student.kwargs` / `teacher.kwargs`."""
    out = {}
    for name, node in _decorated(MODEL_FILES, "MODELS.register").items():
        init = node if isinstance(node, ast.FunctionDef) else next(
            (n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None)
        out[name] = Signature.of(init, skip_first=isinstance(node, ast.ClassDef)) if init else Signature((), ())
    return out


@lru_cache(maxsize=1)
def kdsweep_models() -> tuple[str, ...]:
    return tuple(_decorated_names(MODEL_FILES, "MODELS.register"))


@lru_cache(maxsize=1)
def torchvision_models() -> tuple[str, ...]:
    """torchvision's classification builders, read from its source; () when it is not installed."""
    try:
        spec = importlib.util.find_spec("torchvision")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        return ()
    names: list[str] = []
    for location in spec.submodule_search_locations:
        for path in sorted((Path(location) / "models").glob("*.py")):
            names.extend(_TORCHVISION_BUILDER.findall(path.read_text()))
    return tuple(names)


@lru_cache(maxsize=1)
def datasets() -> tuple[str, ...]:
    return tuple(_decorated_names(DATASET_FILES, "dataset"))


@lru_cache(maxsize=1)
def dataset_shapes() -> dict[str, tuple[int | None, int]]:
    """{data set: (class count or None where only its files know, default input size)}, read from the
    literal `num_classes=` / `input_size=` of each `@dataset(...)`: what a smoke run fakes."""
    out = {}
    for name, node in _decorated(DATASET_FILES, "dataset").items():
        dec = next(d for d in node.decorator_list if isinstance(d, ast.Call) and ast.unparse(d.func) == "dataset")
        keywords = {k.arg: k.value for k in dec.keywords}
        classes = keywords.get("num_classes")
        out[name] = (ast.literal_eval(classes) if isinstance(classes, ast.Constant) else None,
                     ast.literal_eval(keywords["input_size"]))
    return out


@lru_cache(maxsize=1)
def datasets_taking_num_classes() -> tuple[str, ...]:
    """Data sets made in code, whose class count `data.num_classes` sets (`classes_from_config=True`)."""
    return tuple(_decorated_names(DATASET_FILES, "dataset", flag="classes_from_config"))


@lru_cache(maxsize=1)
def datasets_of_files() -> tuple[str, ...]:
    """Data sets of image files: their loader is annotated `-> FileData` (the others return TensorData)."""
    return tuple(name for name, node in _decorated(DATASET_FILES, "dataset").items()
                 if isinstance(node, ast.FunctionDef) and node.returns is not None
                 and ast.unparse(node.returns) == "FileData")


@lru_cache(maxsize=1)
def mdistiller_models() -> dict[str, str]:
    """mdistiller's model keys (`resnet8x4`, `ShuffleV1`) -> kdsweep's names: the literal `mdistiller=`
    keyword of the model registrations (the CIFAR zoo: `cifar_` + the key in lower case)."""
    registered = _metadata(MODEL_FILES, "MODELS.register")
    return {str(meta["mdistiller"]): name for name, meta in registered.items() if "mdistiller" in meta}


def unknown_model(name: object, known) -> str:
    """The message for an arch no registry knows: an mdistiller spelling (`resnet8x4`, `ShuffleV1`, in any
    case) is told kdsweep's name; anything else gets the closest known names. Only unknown names get
    here, so `resnet18` / `vgg13` keep meaning torchvision's models."""
    theirs = mdistiller_alias(name)
    hint = f"did you mean {theirs[1]!r} (mdistiller's {theirs[0]})?" if theirs else did_you_mean(name, known)
    return f"unknown model {name!r}; {hint}"


def mdistiller_alias(name: object) -> tuple[str, str] | None:
    """(mdistiller's key, kdsweep's name) when `name` is an mdistiller model key in any case, else None."""
    return {key.lower(): (key, ours) for key, ours in mdistiller_models().items()}.get(str(name).lower())


def check_arch(name: object, where: str) -> None:
    """A model name: kdsweep's own first, then torchvision's (read only when needed)."""
    if isinstance(name, str) and (name in kdsweep_models() or name in torchvision_models()):
        return
    raise UserError(unknown_model(name, set(kdsweep_models()) | set(torchvision_models())), where=where)


def check_dataset(name: object, where: str) -> None:
    if isinstance(name, str) and name in datasets():
        return
    raise UserError(f"unknown data set {name!r}; {did_you_mean(name, datasets())}", where=where)


def check_num_classes(data: dict, where: str) -> None:
    """`data.num_classes` only where it sets the class count: data made in code. Elsewhere the files
    decide, and a number here would only mislead (a stage teacher's head was built from it)."""
    if data.get("num_classes") is None or data["name"] in datasets_taking_num_classes():
        return
    raise UserError(f"{data['name']} has the classes of its data, so data.num_classes does not apply (it is for "
                    f"data made in code: {', '.join(datasets_taking_num_classes())}); remove it, or set "
                    "student.num_classes for a model head of another size", where=where)


def check_model_kwargs(section: dict, where: str) -> None:
    """`kwargs` of a kdsweep model are its factory's parameters (torchvision's builders take any keyword:
    torchvision checks those when the model is built). `num_classes` has its own key."""
    sig = kdsweep_model_signatures().get(section.get("arch"))
    for key in section.get("kwargs") or {}:
        if key == "num_classes":
            raise UserError(f"set {where.rpartition('.')[0]}.num_classes, not kwargs.num_classes", where=f"{where}.{key}")
        if sig is not None and key not in sig.params and not sig.any_keyword:
            options = [p for p in sig.params if p != "num_classes"]
            hint = did_you_mean(key, options) if options else f"{section['arch']} takes no kwargs"
            raise UserError(f"{section['arch']} has no argument {key!r}; {hint}", where=f"{where}.{key}")


def _metadata(folder: Path, decorator: str) -> dict[str, dict[str, object]]:
    """Each registration's literal keywords (`**spread` ones and other expressions are left out)."""
    out: dict[str, dict[str, object]] = {}
    for name, node in _decorated(folder, decorator).items():
        dec = next(d for d in node.decorator_list
                   if isinstance(d, ast.Call) and ast.unparse(d.func) == decorator)
        out[name] = {k.arg: k.value.value for k in dec.keywords
                     if k.arg and isinstance(k.value, ast.Constant)}
    return out


@lru_cache(maxsize=1)
def dataset_metadata() -> dict[str, dict[str, object]]:
    """Each data set's literal registration keywords (num_classes, input_size, ...), for the key reference."""
    return _metadata(DATASET_FILES, "dataset")
