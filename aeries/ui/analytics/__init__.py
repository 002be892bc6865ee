"""The analytics page's sections, named like the modules of aeries.analytics they draw, plus the
cached data layer and the chart builders."""
