"""The one reporting library: which rows count, their statistics, and the tables and plots
written from them (Markdown, LaTeX, CSV, PNG).

- :mod:`~mirage.report.rows`: results files pooled with a label each, filtered, one row per
  measurement (the rule of :func:`mirage.records.current_positions`);
- :mod:`~mirage.report.stats`: mean and std (ddof 0, as the official Mirage code), the paper's
  top-5-of-10 view, medians;
- :mod:`~mirage.report.formats`: numbers as text, Markdown and LaTeX tables;
- table kinds: :mod:`~mirage.report.tables` (a summary of any rows, one column per value of a
  setting), :mod:`~mirage.report.paired` (a method against random at its own bytes),
  :mod:`~mirage.report.paper` (the Mirage paper's tables), :mod:`~mirage.report.plots`;
- :mod:`~mirage.report.spec`: a study's report spec (``conf/report/<study>.yaml``) run into
  ``results/<study>/``, and the README blocks that quote its tables.
"""
