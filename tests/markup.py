"""Reading a page's HTML as a browser would build it, for what a user sees or htmx swaps."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

# Elements that never have an end tag.
_VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())  # noqa: SIM905


@dataclass
class Element:
    tag: str
    attrs: dict[str, str | None]
    # Text as assistive technology reads it: what is inside aria-hidden="true" is left out.
    text: str = ""
    children: list[Element] = field(default_factory=list)

    def find_all(self, tag: str | None = None) -> list[Element]:
        """Every element inside this one (of one tag), in document order."""
        found = []
        for child in self.children:
            if tag is None or child.tag == tag:
                found.append(child)
            found += child.find_all(tag)
        return found


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#fragment", {})
        self.open: list[Element] = [self.root]
        self.hidden_depth = 0  # how many open elements are aria-hidden

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, dict(attrs))
        self.open[-1].children.append(element)
        if tag not in _VOID:
            self.open.append(element)
            self.hidden_depth += element.attrs.get("aria-hidden") == "true"

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID or tag not in (element.tag for element in self.open[1:]):
            return
        while True:  # an end tag closes whatever is still open inside it, as browsers do
            element = self.open.pop()
            self.hidden_depth -= element.attrs.get("aria-hidden") == "true"
            if element.tag == tag:
                return

    def handle_data(self, data: str) -> None:
        if not self.hidden_depth:
            for element in self.open[1:]:
                element.text += data


def parse(html: str) -> Element:
    """The page or fragment as a tree under one root (its children are the top-level elements)."""
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


def shown_text(element: Element) -> str:
    """The element's text with white space folded, as it reads."""
    return " ".join(element.text.split())


def column_headers(html: str) -> list[str]:
    """The first table's column headers, in order, as read out."""
    (table, *_) = parse(html).find_all("table")
    return [shown_text(th) for th in table.find_all("thead")[0].find_all("th")]


def by_id(root: Element, element_id: str) -> Element:
    """The one element with this id (a page with two is an error)."""
    (element,) = [e for e in root.find_all() if e.attrs.get("id") == element_id]
    return element
