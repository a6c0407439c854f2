"""Form shapes for the builder. The rules live in the services (shared with the
activation check); forms only parse input and show errors next to their fields."""
from django import forms
from django.forms.models import model_to_dict

from agents.models import Agent
from agents.policy import attach_refusal, may_auto_send
from messaging.models import Mailbox, MailboxPool

from . import merge_fields
from .models import TASK_CHANNELS, Channel, DelayUnit, JobType, ReenrollPolicy, RejectionPolicy, SequenceStatus
from .services.steps import MAX_BODY_TEMPLATE, defaults_for, step_errors, step_values

SUGGESTED_WINDOW = {"window_days": [0, 1, 2, 3, 4], "window_start": "09:00", "window_end": "17:00"}

DAY_CHOICES = [(0, "Mon"), (1, "Tue"), (2, "Wed"), (3, "Thu"), (4, "Fri"), (5, "Sat"), (6, "Sun")]
STATUS_FILTERS = [("", "All statuses")] + list(SequenceStatus.choices)


class SequenceFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Search by name",
                        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Search sequences…"}))
    status = forms.ChoiceField(required=False, choices=STATUS_FILTERS, label="Status")


class SequenceCreateForm(forms.Form):
    name = forms.CharField(max_length=200, widget=forms.TextInput(attrs={"autofocus": True,
                                                                        "placeholder": "e.g. Q3 outbound to CFOs"}))
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}),
                                  help_text="Optional: who it is for and what it should achieve.")


class SequenceSettingsForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    # A reply or a meeting pauses the enrollment (it can be resumed), it does not end it:
    # the labels say so, and the help text says what each choice does.
    stop_on_reply = forms.BooleanField(required=False, label="Pause on reply",
                                       help_text="Ticked: a reply pauses the contact's enrollment until someone "
                                                 "resumes it. Unticked: the steps go on after a reply.")
    stop_on_meeting = forms.BooleanField(required=False, label="Pause on meeting",
                                         help_text="Ticked: a booked meeting pauses the contact's enrollment until "
                                                   "someone resumes it. Unticked: the steps go on after a meeting.")
    # Exit rules (seed 002), saved on the sequence's version; empty choices keep the
    # behaviour above (a reply or meeting pauses as ticked; an ended lead exits).
    on_reply = forms.ChoiceField(
        required=False, label="Exit on a reply", choices=[
            ("", "No: pause or go on, as ticked above"), ("exit", "Exit on any reply"),
            ("exit_positive", "Exit on a positive reply only")],
        help_text="A positive reply shows interest (“sounds good, send me times”). With “only”, any other reply "
                  "pauses or goes on as ticked above.")
    on_meeting = forms.ChoiceField(required=False, label="Exit on a booked meeting", choices=[
        ("", "No: pause or go on, as ticked above"), ("exit", "Exit")])
    on_conversion = forms.ChoiceField(required=False, label="When the lead converts", choices=[
        ("", "Exit"), ("continue", "Keep going")])
    on_disqualification = forms.ChoiceField(required=False, label="When the lead is disqualified", choices=[
        ("", "Exit"), ("continue", "Keep going")])
    no_engagement_days = forms.IntegerField(
        required=False, min_value=1, max_value=365, label="Exit after N days without engagement",
        help_text="No open, click or reply for this many days since enrolling or the last one. Empty: never.")
    sender_profile = forms.ModelChoiceField(queryset=Mailbox.objects.none(), required=False,
                                            label="Sender profile", empty_label="— none —")
    mailbox_pool = forms.ModelChoiceField(queryset=MailboxPool.objects.none(), required=False,
                                          label="Or a mailbox pool", empty_label="— none —",
                                          help_text="Rotates between the pool's mailboxes.")
    agent = forms.ModelChoiceField(queryset=Agent.objects.none(), required=False, label="Agent",
                                   empty_label="— none —", help_text="Drafts the messages.")
    is_default = forms.BooleanField(required=False, label="Default sequence",
                                    help_text="Preselected for quick enrollment; one per workspace.")
    test_mode = forms.BooleanField(required=False, label="Test mode",
                                   help_text="Every email goes to your own address (the enrolling user's, else the "
                                             "owner's), never to the contact, and the frequency cap is not applied. "
                                             "SMS steps are skipped.")
    reenroll_policy = forms.ChoiceField(choices=ReenrollPolicy.choices, label="Re-enrollment")
    reenroll_after_days = forms.IntegerField(min_value=1, max_value=3650, required=False,
                                             label="Cooldown (days)")
    rejection_policy = forms.ChoiceField(choices=RejectionPolicy.choices, label="When a draft is rejected")
    approval_expiry_hours = forms.IntegerField(min_value=1, max_value=24 * 60, required=False,
                                               label="Approval expires after (hours)",
                                               help_text="Empty: drafts wait until someone reviews them.")

    def __init__(self, *args, tenant, role, owner_role=None, **kwargs):
        """`role`: the viewer's, which decides the agents they may attach; `owner_role`:
        the sequence owner's, which decides whether its drafts may skip review."""
        super().__init__(*args, **kwargs)
        self.fields["sender_profile"].queryset = Mailbox.objects.filter(tenant=tenant)
        self.fields["mailbox_pool"].queryset = MailboxPool.objects.filter(tenant=tenant)
        agent = self.fields["agent"]
        agent.queryset = Agent.objects.filter(tenant=tenant)
        agent.label_from_instance = lambda choice: (
            f"{choice.name} — sends without review: managers only"
            if attach_refusal(tenant=tenant, role=role, agent=choice) else choice.name
        )
        if not may_auto_send(tenant=tenant, role=owner_role):
            agent.help_text = ("Drafts the messages. Drafts of this sequence always go to review: its owner is "
                               "not a manager or admin (workspace policy).")

    EXIT_RULE_FIELDS = ("on_reply", "on_meeting", "on_conversion", "on_disqualification", "no_engagement_days")

    @classmethod
    def initial_for(cls, sequence):
        # Every other field of this form is a field of Sequence under the same name.
        initial = model_to_dict(sequence, fields=[f for f in cls.base_fields if f not in cls.EXIT_RULE_FIELDS])
        version = sequence.current_version
        rules = (version.exit_rules if version is not None else None) or {}
        return {
            **initial,
            "on_reply": rules.get("reply") if rules.get("reply") in ("exit", "exit_positive") else "",
            "on_meeting": "exit" if rules.get("meeting") == "exit" else "",
            "on_conversion": "continue" if rules.get("conversion") is False else "",
            "on_disqualification": "continue" if rules.get("disqualification") is False else "",
            "no_engagement_days": rules.get("no_engagement_days"),
        }

    def clean(self):
        data = super().clean()
        if data.get("reenroll_policy") == ReenrollPolicy.AFTER_DAYS and not data.get("reenroll_after_days"):
            self.add_error("reenroll_after_days", "Enter after how many days a contact may be enrolled again.")
        return data

    @property
    def exit_rules(self):
        """The exit rules chosen, in SequenceVersion.exit_rules form (only what differs
        from the behaviour without rules; the pause itself stays the ticked boxes)."""
        data = self.cleaned_data
        rules = {}
        if data.get("on_reply"):
            rules["reply"] = data["on_reply"]
        if data.get("on_meeting"):
            rules["meeting"] = data["on_meeting"]
        for field, key in (("on_conversion", "conversion"), ("on_disqualification", "disqualification")):
            if data.get(field) == "continue":
                rules[key] = False
        if data.get("no_engagement_days"):
            rules["no_engagement_days"] = data["no_engagement_days"]
        return rules

    @property
    def values(self):
        data = {k: v for k, v in self.cleaned_data.items() if k not in self.EXIT_RULE_FIELDS}
        if not data.get("reenroll_after_days"):
            data.pop("reenroll_after_days", None)  # keep the stored cooldown when not used
        return data


MESSAGE_CHANNELS = [(Channel.EMAIL.value, Channel.EMAIL.label), (Channel.SMS.value, Channel.SMS.label)]
TASK_CHANNEL_CHOICES = [(c.value, c.label) for c in TASK_CHANNELS]
MESSAGE_ONLY_BLANK = {"angle": "", "cta": "", "value_proposition": "", "requires_human_approval": False}


class _StepTimingForm(forms.Form):
    """When a step runs: shared by message steps and a rep's task and call steps."""

    delay_value = forms.IntegerField(label="Delay")
    delay_unit = forms.ChoiceField(choices=DelayUnit.choices, label="Unit")
    business_days_only = forms.BooleanField(required=False, label="Weekdays only",
                                            help_text="Count and send on Monday to Friday.")
    use_window = forms.BooleanField(required=False, label="Send only inside a window (recipient's time)")
    window_days = forms.TypedMultipleChoiceField(choices=DAY_CHOICES, coerce=int, required=False,
                                                 widget=forms.CheckboxSelectMultiple, label="Days")
    window_start = forms.TimeField(required=False, label="From",
                                   widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    window_end = forms.TimeField(required=False, label="Until",
                                 widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    jitter_minutes = forms.IntegerField(required=False, label="Jitter (± minutes)",
                                        help_text="Spreads sends so they look hand-timed.")

    # form field -> step field, for the fields whose names differ (a task's title and
    # instructions are kept in the step's subject and body templates: the same merge
    # fields and length rules apply, and the task writer renders them per contact).
    RENAMED = {}

    def __init__(self, *args, is_first, **kwargs):
        self.is_first = is_first
        super().__init__(*args, **kwargs)
        if is_first:
            self.fields["delay_value"].help_text = "0 = right at enrollment."
        else:
            self.fields["delay_value"].help_text = "Counted from the previous step; 0 = right after it."

    @classmethod
    def for_step(cls, step):
        return TaskStepForm if step.channel in TASK_CHANNELS else StepForm

    @classmethod
    def for_channel(cls, channel):
        return TaskStepForm if channel in TASK_CHANNELS else StepForm

    @classmethod
    def initial_for(cls, step=None, *, is_first=False):
        """A new step starts from the services' defaults; an existing one from its values.
        Without a window of its own, the window fields suggest office hours (unticked)."""
        if step is None:
            values, has_window = dict(defaults_for(is_first=is_first)), False
        else:
            values = step_values(step)
            has_window = step.window_days is not None or step.window_start is not None
        for name, step_field in cls.RENAMED.items():
            values[name] = values.pop(step_field)
        return {**values, "use_window": has_window, **({} if has_window else SUGGESTED_WINDOW)}

    def step_fields(self, data):
        return {}

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        values = {name: data.get(name) for name in (
            "channel", "delay_value", "delay_unit", "business_days_only",
        )}
        values.update(self.step_fields(data))
        values["jitter_minutes"] = data.get("jitter_minutes") or 0
        if values["channel"] in TASK_CHANNELS:
            values["job_type"] = JobType(values["channel"])
        if data.get("use_window"):
            values["window_days"] = data.get("window_days") or []
            values["window_start"] = data.get("window_start")
            values["window_end"] = data.get("window_end")
        else:
            values.update(window_days=None, window_start=None, window_end=None)
        form_name = {step_field: name for name, step_field in self.RENAMED.items()}
        for name, messages in step_errors(values, is_first=self.is_first).items():
            name = form_name.get(name, name)
            for message in messages:
                self.add_error(name if name in self.fields else None, message)
        self.values = values
        return data


class StepForm(_StepTimingForm):
    """An email or SMS step: what the agent writes and how it is reviewed."""

    channel = forms.ChoiceField(choices=MESSAGE_CHANNELS)
    job_type = forms.ChoiceField(choices=[(j.value, j.label) for j in (
        JobType.INITIAL_OUTREACH, JobType.FOLLOW_UP, JobType.RE_ENGAGEMENT)], label="Job type")
    angle = forms.CharField(max_length=500, required=False, label="Angle",
                            help_text="The approach or hook for this step.")
    cta = forms.CharField(max_length=500, required=False, label="Call to action")
    value_proposition = forms.CharField(max_length=500, required=False, label="Value proposition")
    subject_template = forms.CharField(max_length=300, required=False, label="Subject template",
                                       help_text="Optional. Empty lets the agent write it.")
    # No form max_length: the services' rule gives the message, the attribute stops typing.
    body_template = forms.CharField(required=False, label="Body template",
                                    widget=forms.Textarea(attrs={"rows": 4, "maxlength": MAX_BODY_TEMPLATE}),
                                    help_text="Optional. Merge fields: " + merge_fields.known_fields_text())
    requires_human_approval = forms.BooleanField(required=False, label="Always review drafts of this step",
                                                 help_text="Forces review whatever the agent's autonomy.")

    field_order = ["channel", "job_type", "delay_value", "delay_unit"]

    def step_fields(self, data):
        return {name: data.get(name) for name in (
            "job_type", "angle", "cta", "value_proposition", "subject_template", "body_template",
            "requires_human_approval",
        )}


class TaskStepForm(_StepTimingForm):
    """A rep's task or call: a title and instructions for the rep, no email fields."""

    channel = forms.ChoiceField(choices=TASK_CHANNEL_CHOICES, label="Kind")
    title = forms.CharField(max_length=300, required=False, label="Title",
                            help_text="Optional. Empty: the contact's name and company.")
    instructions = forms.CharField(required=False, label="Instructions for the rep",
                                   widget=forms.Textarea(attrs={"rows": 4, "maxlength": MAX_BODY_TEMPLATE}),
                                   help_text="Shown on the task. Merge fields: " + merge_fields.known_fields_text())

    RENAMED = {"title": "subject_template", "instructions": "body_template"}
    field_order = ["channel", "delay_value", "delay_unit", "title", "instructions"]

    def step_fields(self, data):
        # The agent hints and review only shape drafted messages; a task step keeps none.
        return {**MESSAGE_ONLY_BLANK, "subject_template": data.get("title") or "",
                "body_template": data.get("instructions") or ""}


GOAL_KIND_CHOICES = [("meeting_booked", "A meeting is booked"), ("lead_status", "The lead status becomes …"),
                     ("clicked", "A link is clicked"), ("custom_event", "A custom event happens")]


class GoalForm(forms.Form):
    """One sequence goal (seed 001's "Booked meeting"); the rules are goals_set's."""

    name = forms.CharField(max_length=200, widget=forms.TextInput(attrs={"placeholder": "e.g. Booked meeting"}))
    kind = forms.ChoiceField(choices=GOAL_KIND_CHOICES, label="Reached when")
    lead_status = forms.MultipleChoiceField(required=False, label="For a lead status: which",
                                            widget=forms.CheckboxSelectMultiple)
    link_contains = forms.CharField(required=False, max_length=500, label="For a click: the link contains",
                                    widget=forms.TextInput(attrs={"placeholder": "/book-demo"}))
    event_name = forms.CharField(required=False, max_length=100, label="For a custom event: its name",
                                 widget=forms.TextInput(attrs={"placeholder": "trial_started"}))
    action = forms.ChoiceField(choices=[("exit", "Exit the sequence"), ("move", "Move to another sequence")],
                               label="Then")
    sequence = forms.ModelChoiceField(queryset=None, required=False, label="Move to", empty_label="— choose —")

    def __init__(self, *args, tenant, sequence, **kwargs):
        from contacts.models import LeadStatus

        from .models import Sequence

        super().__init__(*args, **kwargs)
        self.fields["lead_status"].choices = LeadStatus.choices
        self.fields["sequence"].queryset = Sequence.objects.filter(tenant=tenant).exclude(pk=sequence.pk) \
            .exclude(status=SequenceStatus.ARCHIVED)

    @property
    def goal(self):
        data = self.cleaned_data
        condition = {"kind": data["kind"]}
        if data["kind"] == "lead_status":
            condition["in"] = data["lead_status"]
        elif data["kind"] == "clicked":
            condition["link_contains"] = data["link_contains"]
        elif data["kind"] == "custom_event":
            condition["name"] = data["event_name"]
        goal = {"name": data["name"], "condition": condition, "action": data["action"]}
        if data["action"] == "move":
            goal["sequence"] = data["sequence"].pk if data["sequence"] else None
        return goal
