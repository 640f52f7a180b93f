import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('core', '0004_organization_site_organization'),
        ('patients', '0005_coverage_kind_alter_coverage_bin_and_more'),
        ('rx', '0007_fill_source_cycle'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='SyncCycle',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('sync_date', models.DateField()),
                ('status', models.CharField(choices=[('to_call', 'To call'), ('called', 'Called (not yet confirmed)'), ('confirmed', 'Confirmed by the patient'), ('queued', 'Sync fills queued'), ('done', 'Done')], default='to_call', max_length=10)),
                ('alignment', models.BooleanField(default=False, help_text='The first cycle: short fills bring every medication in line.')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('queued_at', models.DateTimeField(blank=True, null=True)),
                ('queued_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('site', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.site')),
            ],
        ),
        migrations.CreateModel(
            name='SyncCall',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('called_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('outcome', models.CharField(choices=[('confirmed', 'Reached: confirmed'), ('changes', 'Reached: changes to make'), ('hold', 'Reached: hold this month'), ('left_message', 'Left a message'), ('no_answer', 'No answer')], max_length=12)),
                ('note', models.CharField(blank=True, max_length=300)),
                ('called_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('site', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.site')),
                ('cycle', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='calls', to='medsync.synccycle')),
            ],
        ),
        migrations.CreateModel(
            name='SyncEnrollment',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('active', models.BooleanField(default=True)),
                ('sync_day', models.PositiveSmallIntegerField(help_text='Day of the month (1–31); in a shorter month, its last day.')),
                ('anchor_date', models.DateField(help_text='The first sync date.')),
                ('consent_note', models.CharField(help_text='How the patient agreed.', max_length=300)),
                ('enrolled_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('ended_at', models.DateTimeField(blank=True, null=True)),
                ('end_reason', models.CharField(blank=True, choices=[('patient_request', 'Patient asked to stop'), ('moved', 'Patient moved or transferred out'), ('deceased', 'Patient deceased'), ('no_chronic_meds', 'No chronic medications left to align'), ('other', 'Other')], max_length=20)),
                ('end_note', models.CharField(blank=True, max_length=300)),
                ('ended_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('enrolled_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('patient', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='sync_enrollments', to='patients.patient')),
                ('site', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.site')),
            ],
            options={
                'indexes': [models.Index(fields=['site', 'active'], name='medsync_site_active')],
                'constraints': [models.UniqueConstraint(condition=models.Q(('active', True)), fields=('site', 'patient'), name='medsync_one_active_enrollment'), models.CheckConstraint(condition=models.Q(('sync_day__gte', 1), ('sync_day__lte', 31)), name='medsync_sync_day_range'), models.CheckConstraint(condition=models.Q(models.Q(('active', True), ('ended_at__isnull', True)), models.Q(('active', False), ('ended_at__isnull', False)), _connector='OR'), name='medsync_ended_when_inactive')],
            },
        ),
        migrations.AddField(
            model_name='synccycle',
            name='enrollment',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='cycles', to='medsync.syncenrollment'),
        ),
        migrations.CreateModel(
            name='SyncFill',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('action', models.CharField(choices=[('short', 'Short fill to the sync date'), ('regular', 'Regular fill on the sync date'), ('next_month', "Short fill to next month's sync date"), ('adjust_full', 'Align by changing the next full fill'), ('skip', 'Not filled this cycle')], max_length=12)),
                ('due_date', models.DateField(help_text='When the medication runs out.')),
                ('target_date', models.DateField(help_text='The sync date this fill lasts to.')),
                ('days_supply', models.PositiveSmallIntegerField()),
                ('quantity', models.DecimalField(decimal_places=3, max_digits=10)),
                ('short_fill', models.BooleanField(default=False)),
                ('warning', models.CharField(blank=True, max_length=300)),
                ('queue_message', models.CharField(blank=True, max_length=300)),
                ('cycle', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='fills', to='medsync.synccycle')),
                ('fill', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='rx.fill')),
                ('prescription', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='rx.prescription')),
                ('site', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.site')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('cycle', 'prescription'), name='medsync_fill_unique_rx'), models.CheckConstraint(condition=models.Q(('quantity__gte', 0)), name='medsync_fill_quantity_nonneg'), models.CheckConstraint(condition=models.Q(('days_supply__lte', 365)), name='medsync_fill_days_range')],
            },
        ),
        migrations.CreateModel(
            name='SyncMember',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('included', models.BooleanField(default=True)),
                ('exclusion', models.CharField(blank=True, choices=[('controlled_cii', 'Controlled CII (no refills, its own fill rules)'), ('acute', 'Acute (short course)'), ('as_needed', 'As needed (PRN)'), ('patient_choice', 'Patient prefers to fill it separately'), ('other', 'Other')], max_length=20)),
                ('note', models.CharField(blank=True, max_length=200)),
                ('changed_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('enrollment', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='members', to='medsync.syncenrollment')),
                ('prescription', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='rx.prescription')),
                ('site', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.site')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('enrollment', 'prescription'), name='medsync_member_unique'), models.CheckConstraint(condition=models.Q(models.Q(('exclusion', ''), ('included', True)), models.Q(('included', False), models.Q(('exclusion', ''), _negated=True)), _connector='OR'), name='medsync_member_exclusion_reason')],
            },
        ),
        migrations.AddIndex(
            model_name='synccycle',
            index=models.Index(fields=['site', 'status', 'sync_date'], name='medsync_cycle_due'),
        ),
        migrations.AddConstraint(
            model_name='synccycle',
            constraint=models.UniqueConstraint(fields=('enrollment', 'sync_date'), name='medsync_cycle_unique_date'),
        ),
    ]
