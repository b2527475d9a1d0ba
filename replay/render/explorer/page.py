"""Writing the explorer page: the package's HTML, CSS and JavaScript, the data, the videos.

The page is ``page.html`` with ``{{title}}``, ``{{style}}`` (``explorer.css``),
``{{data}}`` (the JSON the script reads), ``{{videos}}`` (one ``<script
type="application/octet-stream">`` of base64 per run with frames) and
``{{script}}`` (``explorer.js``) filled in. The videos are copied from their
files in chunks, so writing a page of many runs holds one chunk at a time.
"""

import base64
import html
import json
from importlib import resources

#: The files of the page, package data of ``replay.render.explorer``.
PAGE_FILE, STYLE_FILE, SCRIPT_FILE = "page.html", "explorer.css", "explorer.js"
#: The placeholders of ``page.html``, in the order they appear.
PLACEHOLDERS = ("{{title}}", "{{style}}", "{{title}}", "{{data}}", "{{videos}}", "{{script}}")
#: Bytes of a video read per chunk (a multiple of 3: base64 chunks join without padding).
CHUNK_BYTES = 3 * 2**18


def package_text(name):
    """The text of one of the page's files."""
    return resources.files("replay.render.explorer").joinpath(name).read_text(encoding="utf-8")


def template_pieces():
    """``page.html`` cut at its placeholders: the text between them, in order."""
    text = package_text(PAGE_FILE)
    pieces = []
    for placeholder in PLACEHOLDERS:
        before, found, text = text.partition(placeholder)
        if not found:
            raise RuntimeError(f"{PAGE_FILE} of replay.render.explorer lacks {placeholder}; "
                               "the installed package is damaged: reinstall replay.")
        pieces.append(before)
    pieces.append(text)
    return pieces


def script_json(data):
    """``data`` as JSON that is safe inside a ``<script>`` element (no ``</``, no ``<!--``)."""
    text = json.dumps(data, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c")


def write_page(path, *, title, data, videos):
    """Write the page to ``path``.

    Args:
        path: the HTML file.
        title: the page's title (plain text).
        data: the JSON-ready dict the script reads.
        videos: ``{run index: MP4 file}`` of the runs with frames.

    Returns:
        The number of bytes written.
    """
    pieces = template_pieces()
    escaped_title = html.escape(title)
    fills = (escaped_title, package_text(STYLE_FILE), escaped_title, script_json(data), None,
             package_text(SCRIPT_FILE))
    with open(path, "w", encoding="utf-8", newline="\n") as page:
        for piece, fill in zip(pieces, fills):
            page.write(piece)
            if fill is None:
                for index in sorted(videos):
                    write_video(page, index, videos[index])
            else:
                page.write(fill)
        page.write(pieces[-1])
        return page.tell()


def write_video(page, index, video_file):
    """Write one run's video as base64 inside a ``<script>`` element, chunk by chunk."""
    page.write(f'<script type="application/octet-stream" id="video-{index}">')
    with open(video_file, "rb") as video:
        while chunk := video.read(CHUNK_BYTES):
            page.write(base64.b64encode(chunk).decode("ascii"))
    page.write("</script>\n")
