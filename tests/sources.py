"""Real files for the ingestion tests: news pages in the shapes of real sites, feeds, PDFs."""

from __future__ import annotations

import io
from pathlib import Path

BOILERPLATE = (
    "Accept all cookies",
    "Subscribe to our newsletter",
    "Great reporting, thanks",
    "Most read",
    "Sign in",
    "All rights reserved",
)

ODESA_BODY = [
    "ODESA, March 3 (Reuters) - A Russian missile strike on the port of Odesa wounded three "
    "people on Sunday, the regional governor Oleh Kiper said on the Telegram messaging app.",
    "Kiper said air defences shot down two drones over the region overnight and that "
    "firefighters had put out a blaze at a grain terminal near the port.",
    "Ukraine's air force said Russia had launched 14 drones and one Iskander-M ballistic "
    "missile in the attack, and that 11 of the drones were destroyed.",
    "There was no immediate comment from Moscow, which denies targeting civilians.",
]

KHARKIV_BODY = [
    "KHARKIV, Ukraine (AP) \u2014 A guided bomb hit a five-storey apartment building in "
    "Kharkiv on Tuesday, killing two residents and injuring nine, the city mayor said.",
    "Mayor Ihor Terekhov said rescue crews were still searching the rubble late in the "
    "evening and that a kindergarten nearby had been damaged by the blast.",
    "The regional prosecutor's office said it had opened an investigation into a war crime.",
]

MYKOLAIV_BODY = [
    "Officials in Mykolaiv said on Friday that power had been restored to most districts "
    "after a drone attack damaged an energy facility overnight.",
    "The regional administration said 40,000 households had been without electricity for "
    "several hours while engineers repaired the substation.",
    "Residents were asked to limit their use of heavy appliances during the evening peak.",
]


def _paragraphs(body: list[str]) -> str:
    return "\n".join(f"<p>{p}</p>" for p in body)


def wire_site_page(
    url: str = "https://www.reuters.example/world/europe/odesa-port-strike-2024-03-03/?utm_source=twitter",
) -> str:
    """A wire-service article page: meta tags, nav, cookie banner, related links, footer."""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Russian strike on Odesa port wounds three, governor says | Reuters</title>
<meta property="og:title" content="Russian strike on Odesa port wounds three, governor says">
<meta property="og:site_name" content="Reuters">
<meta name="author" content="Olena Harmash">
<meta property="article:published_time" content="2024-03-03T09:41:00Z">
<link rel="canonical" href="{url}">
</head><body>
<div id="cookie-banner" class="cookie-consent"><p>We use cookies to improve your experience.
<button>Accept all cookies</button> <button>Manage preferences</button></p></div>
<header><nav class="site-nav"><ul><li><a href="/world">World</a></li><li><a href="/business">Business</a></li>
<li><a href="/markets">Markets</a></li><li><a href="/signin">Sign in</a></li></ul></nav></header>
<main><article>
<h1>Russian strike on Odesa port wounds three, governor says</h1>
<div class="byline">By <a href="/authors/harmash">Olena Harmash</a></div>
<div class="article-body">{_paragraphs(ODESA_BODY)}</div>
</article>
<aside class="related"><h2>Most read</h2><ul>
<li><a href="/a">Oil prices climb as markets weigh supply risks in the Middle East region</a></li>
<li><a href="/b">Central bank holds rates steady, signals patience on future cuts</a></li></ul></aside>
<div class="newsletter"><p>Subscribe to our newsletter for the daily briefing</p></div>
</main>
<footer><p>All rights reserved. Reuters Example 2024.</p><a href="/terms">Terms of use</a></footer>
</body></html>"""


def local_paper_page() -> str:
    """A local news site: JSON-LD metadata, a comments section, share buttons, a sidebar."""
    return f"""<html><head>
<title>Guided bomb hits Kharkiv apartment block - Kharkiv Today</title>
<script type="application/ld+json">{{"@context": "https://schema.org", "@type": "NewsArticle",
"headline": "Guided bomb hits Kharkiv apartment block, two killed",
"datePublished": "2024-05-14T18:02:00+03:00", "author": {{"@type": "Person", "name": "Maria Koval"}},
"publisher": {{"@type": "Organization", "name": "Kharkiv Today"}}}}</script>
<meta property="og:url" content="https://kharkiv-today.example/news/guided-bomb-apartment#comments">
</head><body>
<div class="top-bar"><a href="/">Home</a> | <a href="/news">News</a> | <a href="/sport">Sport</a></div>
<div class="share"><a href="#">Share on Facebook</a><a href="#">Share on X</a></div>
<div class="content"><h1>Guided bomb hits Kharkiv apartment block, two killed</h1>
<div class="story">{_paragraphs(KHARKIV_BODY)}</div></div>
<div id="comments" class="comments"><h3>Comments (2)</h3>
<div class="comment"><p>Great reporting, thanks for keeping us informed every day.</p></div>
<div class="comment"><p>Stay strong Kharkiv, we are with you.</p></div></div>
<div class="sidebar"><h4>Popular</h4><ul><li><a href="/x">Weather: frost expected on the weekend</a></li></ul></div>
<footer>Kharkiv Today. All rights reserved.</footer>
</body></html>"""


def blog_style_page() -> str:
    """A regional portal without any metadata: no date, no canonical URL, no site name."""
    return f"""<html><head><title>Power restored in Mykolaiv after drone attack</title></head><body>
<nav><a href="/">Main</a><a href="/region">Region</a><a href="/contacts">Contacts</a></nav>
<div class="cookie-notice">This site uses cookies. <a href="#">Accept all cookies</a></div>
<div class="post"><h2>Power restored in Mykolaiv after drone attack</h2>
{_paragraphs(MYKOLAIV_BODY)}</div>
<div class="related-posts"><h3>Read also</h3><a href="/p1">Subscribe to our newsletter</a></div>
</body></html>"""


PAGES = {
    "reuters-odesa.html": wire_site_page,
    "kharkiv-today.htm": local_paper_page,
    "mykolaiv-portal.html": blog_style_page,
}


def rss_feed() -> str:
    return """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Kyiv Wire</title><link>https://kyivwire.example/</link>
<description>Latest</description>
<item><title>Drones shot down over Kyiv region</title>
<link>https://kyivwire.example/2024/06/02/drones-kyiv?utm_medium=rss</link>
<guid>https://kyivwire.example/2024/06/02/drones-kyiv</guid>
<pubDate>Sun, 02 Jun 2024 07:15:00 GMT</pubDate>
<description>&lt;p&gt;Air defences shot down 21 drones over the Kyiv region overnight, the regional military administration said.&lt;/p&gt;&lt;p&gt;No casualties were reported.&lt;/p&gt;</description></item>
<item><title>Train service to Kherson resumes</title>
<link>https://kyivwire.example/2024/06/01/kherson-train</link>
<pubDate>Sat, 01 Jun 2024 12:00:00 GMT</pubDate>
<description>Ukrzaliznytsia said the daily train from Kyiv to Kherson would run again from Monday after repairs to the track.</description></item>
<item><title>Empty item</title><link>https://kyivwire.example/2024/06/01/empty</link></item>
</channel></rss>"""


def atom_feed() -> str:
    return """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Front Line Monitor</title>
<id>urn:uuid:60a76c80-d399-11d9-b93C-0003939e0af6</id><updated>2024-07-05T10:00:00Z</updated>
<entry><title>Shelling damages hospital in Kherson</title>
<link rel="alternate" href="https://frontline.example/reports/kherson-hospital"/>
<id>urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a</id>
<published>2024-07-04T16:20:00Z</published><updated>2024-07-05T08:00:00Z</updated>
<author><name>Field Team</name></author>
<summary>Short summary only.</summary>
<content type="html">&lt;p&gt;KHERSON, July 4 - Russian shelling damaged the regional children's hospital in Kherson on Thursday, wounding a nurse, the regional governor said.&lt;/p&gt;&lt;p&gt;Patients were moved to a shelter in the basement.&lt;/p&gt;</content>
</entry>
<entry><title>Ceasefire talks stall</title><id>tag:frontline.example,2024:talks</id>
<updated>2024-07-03T09:00:00Z</updated>
<content type="text">Negotiators left the talks in Istanbul without agreeing on a prisoner exchange.</content>
</entry></feed>"""


def _escape_pdf(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def pdf_bytes(lines: list[str] | None, *, title: str | None = None) -> bytes:
    """A one-page PDF written by hand (Helvetica text lines), or a page with no text at all
    (lines None: what a scan without OCR looks like to a text extractor)."""
    ops = (
        ""
        if lines is None
        else "BT /F1 12 Tf 14 TL 72 740 Td "
        + " ".join(f"({_escape_pdf(line)}) Tj T*" for line in lines)
        + " ET"
    )
    stream = ops.encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    )
    raw = out.getvalue()
    if title is None:
        return raw
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(raw)))
    writer.add_metadata({"/Title": title, "/Author": "OHCHR", "/CreationDate": "D:20240610120000Z"})
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def encrypted_pdf(lines: list[str]) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(pdf_bytes(lines))))
    writer.encrypt(user_password="secret", owner_password="owner")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


REPORT_LINES = [
    "Protection of Civilians Update",
    "Between 1 and 31 May 2024 the mission recorded 174 civilians killed",
    "and 690 injured in Ukraine. Most casualties were caused by explosive",
    "weapons with wide area effects in populated areas.",
]


def write_mixed_folder(folder: Path) -> Path:
    """Pages, two feeds, PDFs (a good one, a scan, a locked one) and bad files in one folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, make in PAGES.items():
        (folder / name).write_text(make(), encoding="utf-8")
    (folder / "kyivwire.rss").write_text(rss_feed(), encoding="utf-8")
    (folder / "frontline.atom").write_text(atom_feed(), encoding="utf-8")
    (folder / "may-update.pdf").write_bytes(
        pdf_bytes(REPORT_LINES, title="Protection of Civilians: May 2024")
    )
    (folder / "scan.pdf").write_bytes(pdf_bytes(None))
    (folder / "locked.pdf").write_bytes(encrypted_pdf(REPORT_LINES))
    return folder
