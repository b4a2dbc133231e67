"""OPML import: nested outlines and categories become tags; `- opml:` works inside feeds:."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import run_watcher
from watcher.config import parse_config
from watcher.config.opml import parse_opml
from watcher.errors import ConfigError, ParseError

OPML = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0"><head><title>Caucasus</title></head><body>
  <outline text="Agencies">
    <outline text="Azerbaijan">
      <outline type="rss" text="Trend News" xmlUrl="https://en.trend.az/feeds/index.rss" category="wire,az"/>
      <outline type="rss" text="APA" xmlUrl="https://apa.az/rss"/>
    </outline>
    <outline type="rss" text="Armenpress" title="Armenpress" xmlUrl="https://armenpress.am/eng/rss/news/"/>
  </outline>
  <outline type="rss" text="APA" xmlUrl="https://apa.az/rss/ru"/>
  <outline type="rss" text="Local file" xmlUrl="file:///etc/passwd"/>
  <outline text="Empty folder"/>
</body></opml>"""


def test_nested_outlines_and_categories_become_tags() -> None:
    feeds = parse_opml(OPML)
    assert [(f.name, f.url, f.tags) for f in feeds] == [
        (
            "trend-news",
            "https://en.trend.az/feeds/index.rss",
            ("agencies", "azerbaijan", "wire", "az"),
        ),
        ("apa", "https://apa.az/rss", ("agencies", "azerbaijan")),
        ("armenpress", "https://armenpress.am/eng/rss/news/", ("agencies",)),
        ("apa-2", "https://apa.az/rss/ru", ()),
    ]


@pytest.mark.parametrize(
    "data",
    [
        b"<html/>",
        b"not xml",
        b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><opml><body><outline xmlUrl="&e;"/></body></opml>',
    ],
)
def test_bad_opml_is_a_parse_error(data: bytes) -> None:
    try:
        feeds = parse_opml(data)
    except ParseError:
        return
    assert all("root:" not in f.url for f in feeds)  # entities are never resolved


def test_import_opml_prints_yaml_that_the_config_accepts(tmp_path: Path) -> None:
    src = tmp_path / "subs.opml"
    src.write_bytes(OPML)
    result = run_watcher("import-opml", str(src))
    assert result.returncode == 0, result.stderr
    assert not result.stdout.lstrip().startswith("feeds:")  # pasted under the config's own
    data = yaml.safe_load("feeds:\n" + result.stdout)
    assert len(data["feeds"]) == 4 and data["feeds"][0]["tags"] == [
        "agencies",
        "azerbaijan",
        "wire",
        "az",
    ]
    cfg = parse_config(str(tmp_path / "w.yaml"), "feeds:\n" + result.stdout, {})
    assert [f.name for f in cfg.feeds] == ["trend-news", "apa", "armenpress", "apa-2"]


def test_config_accepts_opml_entries(tmp_path: Path) -> None:
    (tmp_path / "subs.opml").write_bytes(OPML)
    text = "feeds:\n  - {name: own, url: 'https://example.org/rss'}\n  - {opml: subs.opml, tags: [imported], interval: 10m}\n"
    cfg = parse_config(str(tmp_path / "w.yaml"), text, {})
    assert [f.name for f in cfg.feeds] == ["own", "trend-news", "apa", "armenpress", "apa-2"]
    assert cfg.feeds[1].tags[0] == "imported" and cfg.feeds[1].interval == 600
    with pytest.raises(ConfigError) as info:
        parse_config(str(tmp_path / "w.yaml"), "feeds:\n  - {opml: missing.opml}\n", {})
    assert str(info.value.problems[0]).startswith(
        f"{tmp_path / 'w.yaml'}:2: feeds[0].opml: cannot read OPML file"
    )
