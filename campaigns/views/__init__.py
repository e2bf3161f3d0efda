"""Campaign pages: opportunities, loyalty, segments, campaigns. One template per page; htmx gets partials."""
