from django.urls import path

from .views import hooks, messages, public, quarantine, settings, tasks

app_name = "messaging"

urlpatterns = [
    path("settings/mailboxes/", settings.mailbox_list, name="mailbox-list"),
    path("settings/mailboxes/new/", settings.mailbox_create, name="mailbox-create"),
    path("settings/mailboxes/<int:mailbox_id>/", settings.mailbox_edit, name="mailbox-edit"),
    path("settings/mailboxes/<int:mailbox_id>/test/", settings.mailbox_test, name="mailbox-test"),
    path("settings/mailboxes/<int:mailbox_id>/resume/", settings.mailbox_resume_view, name="mailbox-resume"),
    path("settings/mailboxes/reputation/", settings.reputation_settings, name="reputation-settings"),
    path("settings/pools/new/", settings.pool_create, name="pool-create"),
    path("settings/pools/<int:pool_id>/", settings.pool_edit, name="pool-edit"),
    path("tasks/", tasks.task_list, name="task-list"),
    path("tasks/<int:task_id>/complete/", tasks.task_complete_view, name="task-complete"),
    path("tasks/<int:task_id>/skip/", tasks.task_skip_view, name="task-skip"),
    path("messages/", messages.message_list, name="message-list"),
    path("messages/<int:message_id>/", messages.message_detail, name="message-detail"),
    path("messages/<int:message_id>/resend/", messages.message_resend_view, name="message-resend"),
    path("inbound/quarantine/", quarantine.quarantine_list, name="quarantine-list"),
    path("inbound/quarantine/<int:quarantine_id>/", quarantine.quarantine_detail, name="quarantine-detail"),
    path("inbound/quarantine/<int:quarantine_id>/retry/", quarantine.quarantine_retry_view, name="quarantine-retry"),
    path("inbound/quarantine/<int:quarantine_id>/discard/", quarantine.quarantine_discard_view,
         name="quarantine-discard"),
    path("u/<str:token>/", public.unsubscribe, name="unsubscribe"),
    path("t/o/<str:token>.gif", public.track_open, name="track-open"),
    path("t/c/<str:token>/", public.track_click, name="track-click"),
    path("hooks/inbound/<slug:tenant_slug>/", hooks.inbound_mail, name="hook-inbound"),
    path("hooks/meetings/<slug:tenant_slug>/", hooks.meeting_booked, name="hook-meetings"),
    path("hooks/sms/<slug:tenant_slug>/", hooks.sms_inbound, name="hook-sms"),
    path("hooks/esp/<slug:tenant_slug>/", hooks.esp_events_hook, name="hook-esp"),
]
