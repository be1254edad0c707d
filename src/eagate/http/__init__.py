"""The HTTP edge: ASGI caps, request ids, access log, problem rendering, paging, operations
routes and the dependency aliases routes share. Imports only kit."""
