"""The chart's metadata, its values documentation and the container image agree with the code."""

import re
import tomllib

import yaml

from conftest import CHART, ROOT, container


def test_app_version_is_the_crate_version():
    cargo = tomllib.loads((ROOT / "Cargo.toml").read_text())
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2"
    assert str(chart["appVersion"]) == cargo["package"]["version"]


def test_every_value_is_commented():
    """Every value has a comment above it. A value is a leaf, or a group whose comment starts
    with `# --` (helm-docs' marker): then the group is one value, a Kubernetes object such as
    `resources`, and its fields are data. Items of a list value are data too."""
    lines = (CHART / "values.yaml").read_text().splitlines()
    undocumented = []
    data_indent = None  # inside a value's data: nothing below is a value of its own
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(line) - len(line.lstrip())
        if data_indent is not None:
            if indent > data_indent or (indent == data_indent and stripped.startswith("- ")):
                continue
            data_indent = None
        key = re.match(r"([A-Za-z][\w.-]*):(.*)$", stripped)
        assert key, f"values.yaml:{i + 1}: unexpected line {line!r}"
        previous = lines[i - 1].strip() if i else ""
        comment_start = i
        while comment_start > 0 and lines[comment_start - 1].strip().startswith("#"):
            comment_start -= 1
        marked = comment_start < i and lines[comment_start].strip().startswith("# --")
        if key.group(2).strip() == "":
            following = next(l for l in lines[i + 1:] if l.strip() and not l.strip().startswith("#"))
            if marked or following.strip().startswith("- "):
                data_indent = indent
            else:
                continue  # a group of values, each documented on its own
        if not previous.startswith("#"):
            undocumented.append(f"{key.group(1)} (line {i + 1})")
    assert not undocumented, f"values without a comment: {undocumented}"


def test_the_image_runs_as_the_chart_user(default_docs):
    dockerfile = (ROOT / "Dockerfile").read_text()
    users = re.findall(r"^USER\s+(\d+)(?::(\d+))?", dockerfile, re.M)
    assert users, "the runtime stage must name a numeric non-root user"
    uid, gid = users[-1]
    sc = container(default_docs)["securityContext"]
    assert int(uid) == sc["runAsUser"] != 0
    assert int(gid) == sc["runAsGroup"]


def test_the_image_is_a_locked_release_build_on_a_supported_toolchain():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "cargo build --release --locked" in dockerfile
    stages = re.findall(r"^FROM\s+(\S+)", dockerfile, re.M)
    assert len(stages) == 2, "a build stage and a runtime stage"
    toolchain = re.match(r"rust:(\d+)\.(\d+)", stages[0])
    assert toolchain, stages[0]
    minimum = tomllib.loads((ROOT / "Cargo.toml").read_text())["package"]["rust-version"]
    assert tuple(map(int, toolchain.groups())) >= tuple(map(int, minimum.split(".")[:2]))
    assert "distroless" in stages[1]


def test_the_docker_context_holds_everything_the_build_copies():
    dockerfile = (ROOT / "Dockerfile").read_text()
    allowed = {
        l[1:].strip().rstrip("/")
        for l in (ROOT / ".dockerignore").read_text().splitlines()
        if l.startswith("!")
    }
    copied = set()
    for sources in re.findall(r"^COPY\s+(?!--from)(.+)\s+\S+$", dockerfile, re.M):
        copied.update(s.rstrip("/") for s in sources.split())
    assert copied, "nothing copied"
    assert copied <= allowed, copied - allowed
    for path in copied:
        assert (ROOT / path).exists(), path


def test_values_named_in_the_chart_readme_exist():
    """The README's values table cannot drift from values.yaml."""
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    readme = (CHART / "README.md").read_text()
    table = readme.split("## Values", 1)[1].split("\n## ", 1)[0]
    named = [
        name
        for row in table.splitlines()
        if row.startswith("| `")
        for name in re.findall(r"`([A-Za-z][\w.]*)`", row.split("|")[1])
    ]
    assert len(named) >= 15
    for name in named:
        node = values
        for part in name.split("."):
            assert isinstance(node, dict) and part in node, f"README names {name}, not in values.yaml"
            node = node[part]
