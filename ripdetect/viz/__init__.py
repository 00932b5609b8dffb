"""Drawing: overlays, outlines, banners and grids (pure), plots, and preview grids."""
