import django.core.validators
import django.db.models.deletion
import django.utils.timezone
from decimal import Decimal
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('core', '0004_organization_site_organization'),
        ('rx', '0007_fill_source_cycle'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='CleaningTask',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('area', models.CharField(choices=[('counter', 'Counter and pickup'), ('fill_station', 'Fill stations'), ('counting_trays', 'Counting trays and spatulas'), ('refrigerator', 'Refrigerator and freezer'), ('shelves', 'Shelves and bins'), ('restroom', 'Restroom'), ('floor', 'Floors'), ('other', 'Other')], max_length=20)),
                ('name', models.CharField(max_length=120)),
                ('frequency', models.CharField(choices=[('shift', 'Each shift'), ('daily', 'Daily'), ('weekly', 'Weekly'), ('monthly', 'Monthly')], max_length=10)),
                ('agent', models.CharField(blank=True, max_length=120, verbose_name='cleaning agent')),
                ('active', models.BooleanField(default=True)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('site', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.site')),
            ],
            options={
                'ordering': ['area', 'name'],
                'constraints': [models.UniqueConstraint(fields=('site', 'area', 'name'), name='ops_cleaning_task_unique')],
            },
        ),
        migrations.CreateModel(
            name='CleaningRecord',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('done_at', models.DateTimeField()),
                ('agent', models.CharField(blank=True, max_length=120)),
                ('agent_lot', models.CharField(blank=True, max_length=40)),
                ('note', models.CharField(blank=True, max_length=300)),
                ('recorded_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('done_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('site', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.site')),
                ('task', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='records', to='operations.cleaningtask')),
            ],
            options={
                'ordering': ['-done_at', '-pk'],
                'indexes': [models.Index(fields=['site', 'done_at'], name='operations__site_id_7795fc_idx')],
            },
        ),
        migrations.CreateModel(
            name='DutyShift',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('role', models.CharField(choices=[('technician', 'Pharmacy technician'), ('technician_in_training', 'Technician in training'), ('pharmacist', 'Pharmacist'), ('pharmacist_in_charge', 'Pharmacist-in-charge'), ('inventory_specialist', 'Inventory specialist'), ('auditor', 'Auditor'), ('admin', 'Administrator')], max_length=32)),
                ('started_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('ended_at', models.DateTimeField(blank=True, null=True)),
                ('over_ratio', models.BooleanField(default=False)),
                ('technicians_at_sign_on', models.PositiveSmallIntegerField(blank=True, null=True)),
                ('pharmacists_at_sign_on', models.PositiveSmallIntegerField(blank=True, null=True)),
                ('over_ratio_reason', models.CharField(blank=True, max_length=300)),
                ('warning', models.CharField(blank=True, help_text='the warning shown', max_length=300)),
                ('warned', models.CharField(blank=True, help_text='who was warned: the person and the pharmacists', max_length=300)),
                ('end_reason', models.CharField(blank=True, max_length=300)),
                ('ended_over_ratio', models.BooleanField(default=False)),
                ('ended_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('person', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='duty_shifts', to=settings.AUTH_USER_MODEL)),
                ('site', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.site')),
            ],
            options={
                'ordering': ['-started_at', '-pk'],
                'indexes': [models.Index(fields=['site', 'started_at'], name='operations__site_id_daf2fc_idx')],
                'constraints': [models.UniqueConstraint(condition=models.Q(('ended_at__isnull', True)), fields=('person',), name='ops_one_open_shift_per_person'), models.CheckConstraint(condition=models.Q(('ended_at__isnull', True), ('ended_at__gte', models.F('started_at')), _connector='OR'), name='ops_shift_ends_after_start'), models.CheckConstraint(condition=models.Q(('over_ratio', False), models.Q(('over_ratio_reason', ''), _negated=True), _connector='OR'), name='ops_over_ratio_has_reason')],
            },
        ),
        migrations.CreateModel(
            name='Equipment',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=80)),
                ('kind', models.CharField(choices=[('robot', 'Robot'), ('counting_machine', 'Counting machine'), ('packager', 'Packager'), ('cabinet', 'Cabinet'), ('refrigerator', 'Refrigerator'), ('label_printer', 'Label printer'), ('other', 'Other')], max_length=20)),
                ('vendor', models.CharField(blank=True, max_length=80)),
                ('model', models.CharField(blank=True, max_length=80)),
                ('serial', models.CharField(blank=True, max_length=60)),
                ('maintenance_days', models.PositiveSmallIntegerField(blank=True, null=True, validators=[django.core.validators.MinValueValidator(1)], verbose_name='maintenance every (days)')),
                ('active', models.BooleanField(default=True)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('device', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='rx.dispensingdevice')),
                ('site', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.site')),
            ],
            options={
                'verbose_name_plural': 'equipment',
                'ordering': ['name'],
                'constraints': [models.UniqueConstraint(fields=('site', 'name'), name='ops_equipment_name_unique'), models.CheckConstraint(condition=models.Q(('maintenance_days__isnull', True), ('maintenance_days__gte', 1), _connector='OR'), name='ops_equipment_interval_positive')],
            },
        ),
        migrations.CreateModel(
            name='EquipmentEvent',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('maintenance', 'Maintenance'), ('calibration', 'Calibration'), ('downtime', 'Downtime'), ('repair', 'Repair')], max_length=12)),
                ('started_at', models.DateTimeField()),
                ('ended_at', models.DateTimeField(blank=True, null=True)),
                ('vendor_ticket', models.CharField(blank=True, max_length=40)),
                ('description', models.CharField(blank=True, max_length=500)),
                ('recorded_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('ended_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('equipment', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='events', to='operations.equipment')),
                ('recorded_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('site', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.site')),
            ],
            options={
                'ordering': ['-started_at', '-pk'],
                'indexes': [models.Index(fields=['site', 'started_at'], name='operations__site_id_0cd5a9_idx')],
                'constraints': [models.CheckConstraint(condition=models.Q(('ended_at__isnull', True), ('ended_at__gte', models.F('started_at')), _connector='OR'), name='ops_event_ends_after_start'), models.UniqueConstraint(condition=models.Q(('ended_at__isnull', True), ('kind', 'downtime')), fields=('equipment',), name='ops_one_open_downtime')],
            },
        ),
        migrations.CreateModel(
            name='OperationsSettings',
            fields=[
                ('site', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, primary_key=True, related_name='operations_settings', serialize=False, to='core.site')),
                ('max_technicians_per_pharmacist', models.PositiveSmallIntegerField(blank=True, help_text="Your state board's ratio, e.g. 3 for 1:3. Leave empty where the state sets no limit (Illinois for registered technicians, for example).", null=True, validators=[django.core.validators.MinValueValidator(1)], verbose_name='technicians allowed per pharmacist on duty')),
                ('trainees_count', models.BooleanField(default=True, verbose_name='technicians in training count toward the ratio')),
                ('citation', models.CharField(blank=True, help_text='e.g. the board rule number', max_length=300, verbose_name='rule or citation')),
                ('duty_version', models.PositiveBigIntegerField(default=0, editable=False)),
                ('updated_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('updated_by', models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name_plural': 'operations settings',
                'constraints': [models.CheckConstraint(condition=models.Q(('max_technicians_per_pharmacist__isnull', True), ('max_technicians_per_pharmacist__gte', 1), _connector='OR'), name='ops_settings_ratio_positive')],
            },
        ),
        migrations.CreateModel(
            name='WasteRecord',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('rcra_hazardous', 'RCRA hazardous pharmaceutical waste'), ('sharps', 'Sharps container'), ('non_hazardous', 'Non-hazardous pharmaceutical waste'), ('trace_chemo', 'Trace chemotherapy waste'), ('universal', 'Universal waste (batteries, lamps)'), ('p_listed', 'P-listed container (e.g. warfarin, nicotine)')], max_length=20)),
                ('container_id', models.CharField(blank=True, max_length=40)),
                ('quantity', models.DecimalField(decimal_places=3, max_digits=10)),
                ('unit', models.CharField(choices=[('lb', 'lb'), ('kg', 'kg'), ('gal', 'gal'), ('container', 'container(s)')], max_length=10)),
                ('hauler', models.CharField(blank=True, max_length=120)),
                ('manifest_number', models.CharField(blank=True, max_length=40, verbose_name='manifest or tracking number')),
                ('sealed_at', models.DateTimeField(blank=True, null=True)),
                ('picked_up_at', models.DateTimeField(blank=True, null=True)),
                ('note', models.CharField(blank=True, max_length=300)),
                ('recorded_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('recorded_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('site', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.site')),
                ('witness', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['-recorded_at', '-pk'],
                'indexes': [models.Index(fields=['site', 'recorded_at'], name='operations__site_id_44ab15_idx')],
                'constraints': [models.CheckConstraint(condition=models.Q(('quantity__gt', Decimal('0'))), name='ops_waste_quantity_positive'), models.CheckConstraint(condition=models.Q(('sealed_at__isnull', False), ('picked_up_at__isnull', False), _connector='OR'), name='ops_waste_sealed_or_picked_up')],
            },
        ),
    ]
