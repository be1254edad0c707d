"""The dashboard's routes, one module per area; ``eagate.web.router`` gathers them."""
