"""Settings are chosen by DJANGO_SETTINGS_MODULE: `base` is the one module used in
every mode; its behaviour follows the environment (see .env.example)."""
