"""`report`: one self-contained HTML page (report.html, its images beside it) from what `score`,
`inspect` and `sweep` wrote: the score table, per-region NME, error curves, misses, galleries of
the faces where a quantised artifact drifts most from its float parent and of the worst faces,
inspect's tensors and the sweep's front. inputs.py reads, figures.py and gallery.py draw,
page.py renders templates/report.html.j2 (Jinja2). The top of the layering: reads eval's data
and the sweep's report, and nothing imports it but the CLI."""
