"""Waiting for htmx in browser tests."""


def settled(page):
    """Wait until htmx has finished every request and swap on the page. htmx wires up
    swapped-in content (hx-post on a new form) only when the swap settles: a key pressed on
    a button before that submits the form the plain way and reloads the whole page."""
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')"
    )
