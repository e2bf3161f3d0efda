"""Statistical customer-lifetime-value models: BG/NBD, Gamma-Gamma and shifted-beta-geometric.

Pure NumPy/SciPy; no Django. Fit with ``bgnbd.fit``, ``gamma_gamma.fit`` and ``sbg.fit``; value customers
with the closed forms in ``predict``; read uploaded summaries with ``io``.
"""
