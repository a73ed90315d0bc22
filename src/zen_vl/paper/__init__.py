"""`make paper`: the measured results of every size run so far → LaTeX tables and figures → latexmk.

results.py collects what the pipeline wrote (provenance, eval results, export manifests); tables.py
and figures.py turn it into paper/tables/*.tex and paper/figures/*.pdf; build.py runs latexmk on
the hand-written sources in paper/ and publishes paper/zen-vl.pdf. Nothing in the paper is a number
the pipeline did not write to disk; a metric with no cases is left out, never shown as a blank.
"""
