"""The API key moves out of provider_settings: tenants type the key itself (encrypted in
api_key_encrypted) and only operators may point an agent at an environment variable.

An agent saved before named its variable in provider_settings["api_key_env"]; that
name moves to the operator-only api_key_env column as it is. Unless the operator lists
it (SCENDCORE_TENANT_… in TENANT_SECRET_ENV_NAMES) its jobs then fail with an error
saying so, and the agent's page asks for the key, instead of sending the variable on."""
from django.db import migrations, models

import scendcore.credentials


def move_env_references_out_of_provider_settings(apps, schema_editor):
    Agent = apps.get_model("agents", "Agent")
    for agent in Agent.objects.filter(provider_settings__has_key="api_key_env").only("pk", "provider_settings"):
        settings = dict(agent.provider_settings)
        name = str(settings.pop("api_key_env") or "").strip()[:100]
        Agent.objects.filter(pk=agent.pk).update(provider_settings=settings, api_key_env=name)


def move_env_references_back(apps, schema_editor):
    Agent = apps.get_model("agents", "Agent")
    for agent in Agent.objects.exclude(api_key_env="").only("pk", "provider_settings", "api_key_env"):
        settings = {**agent.provider_settings, "api_key_env": agent.api_key_env}
        Agent.objects.filter(pk=agent.pk).update(provider_settings=settings)


class Migration(migrations.Migration):
    dependencies = [("agents", "0006_agentjob_id_cache")]

    operations = [
        migrations.AddField(
            model_name="agent",
            name="api_key_encrypted",
            field=scendcore.credentials.SecretField(blank=True, editable=False),
        ),
        migrations.AddField(
            model_name="agent",
            name="api_key_env",
            field=models.CharField(
                blank=True, max_length=100, verbose_name="API key environment variable (operators only)",
                help_text="Set by operators only: a variable named SCENDCORE_TENANT_… and listed in "
                          "TENANT_SECRET_ENV_NAMES, used when no key is stored.",
            ),
        ),
        migrations.RunPython(move_env_references_out_of_provider_settings, move_env_references_back),
    ]
