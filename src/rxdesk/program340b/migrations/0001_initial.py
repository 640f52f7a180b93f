import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('catalog', '0004_product_cmea_product_cmea_base_mg'),
        ('claims', '0001_initial'),
        ('core', '0004_organization_site_organization'),
        ('patients', '0005_coverage_kind_alter_coverage_bin_and_more'),
        ('rx', '0007_fill_source_cycle'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='CoveredEntity',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('opais_id', models.CharField(help_text='e.g. "DSH140001"', max_length=20, verbose_name='340B ID')),
                ('name', models.CharField(max_length=120)),
                ('entity_type', models.CharField(max_length=6)),
                ('active', models.BooleanField(default=True)),
                ('starts_on', models.DateField(help_text='The first day of dispenses captured for the entity')),
                ('lookback_months', models.PositiveSmallIntegerField(default=12, help_text="An encounter this many months back makes the patient the entity's.")),
                ('account_number', models.CharField(blank=True, max_length=40, verbose_name='340B account')),
                ('wholesaler', models.CharField(blank=True, max_length=80)),
                ('updated_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('site', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.site')),
                ('updated_by', models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('site',), name='p340b_one_entity_per_site'), models.CheckConstraint(condition=models.Q(('lookback_months__gte', 1), ('lookback_months__lte', 36)), name='p340b_lookback_range')],
            },
        ),
        migrations.CreateModel(
            name='Capture',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('dispense', 'Dispense'), ('reversal', 'Return to stock (reversal)')], max_length=10)),
                ('ndc11', models.CharField(max_length=11)),
                ('day', models.DateField(help_text='The day dispensed (or returned), at the pharmacy')),
                ('eligible', models.BooleanField()),
                ('units', models.DecimalField(decimal_places=3, help_text='Signed; counted only when eligible', max_digits=14)),
                ('reasons', models.JSONField(default=list)),
                ('captured_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('fill', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='rx.fill')),
                ('package', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='catalog.package')),
                ('site', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.site')),
                ('entity', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='program340b.coveredentity')),
            ],
            options={
                'indexes': [models.Index(fields=['site', 'day'], name='p340b_capture_day')],
                'constraints': [models.UniqueConstraint(fields=('fill', 'kind'), name='p340b_capture_once'), models.CheckConstraint(condition=models.Q(models.Q(('kind', 'dispense'), ('units__gt', 0)), models.Q(('kind', 'reversal'), ('units__lt', 0)), _connector='OR'), name='p340b_capture_sign')],
            },
        ),
        migrations.CreateModel(
            name='Accumulator',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('units', models.DecimalField(decimal_places=3, default=0, max_digits=14)),
                ('package', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='catalog.package')),
                ('site', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.site')),
                ('entity', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='program340b.coveredentity')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('entity', 'package'), name='p340b_accumulator_once')],
            },
        ),
        migrations.CreateModel(
            name='EligiblePatient',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('effective_from', models.DateField()),
                ('effective_to', models.DateField(blank=True, null=True)),
                ('added_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('entity', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='patients', to='program340b.coveredentity')),
                ('patient', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='patients.patient')),
                ('site', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.site')),
            ],
            options={
                'constraints': [models.CheckConstraint(condition=models.Q(('effective_to__isnull', True), ('effective_to__gte', models.F('effective_from')), _connector='OR'), name='p340b_patient_dates')],
            },
        ),
        migrations.CreateModel(
            name='EligiblePrescriber',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('npi', models.CharField(max_length=10, verbose_name='NPI')),
                ('name', models.CharField(blank=True, max_length=120)),
                ('effective_from', models.DateField()),
                ('effective_to', models.DateField(blank=True, null=True)),
                ('added_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('entity', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='prescribers', to='program340b.coveredentity')),
                ('site', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.site')),
            ],
            options={
                'indexes': [models.Index(fields=['entity', 'npi'], name='p340b_prescriber_npi')],
                'constraints': [models.CheckConstraint(condition=models.Q(('effective_to__isnull', True), ('effective_to__gte', models.F('effective_from')), _connector='OR'), name='p340b_prescriber_dates'), models.CheckConstraint(condition=models.Q(('npi__regex', '^[0-9]{10}$')), name='p340b_npi_digits')],
            },
        ),
        migrations.CreateModel(
            name='Encounter',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('location', models.CharField(max_length=120)),
                ('on', models.DateField()),
                ('added_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('entity', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='encounters', to='program340b.coveredentity')),
                ('patient', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='patients.patient')),
                ('site', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.site')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('entity', 'patient', 'location', 'on'), name='p340b_encounter_once')],
            },
        ),
        migrations.CreateModel(
            name='NdcExclusion',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('ndc11', models.CharField(max_length=11, verbose_name='NDC (11-digit)')),
                ('reason', models.CharField(max_length=200)),
                ('added_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('entity', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='exclusions', to='program340b.coveredentity')),
                ('site', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.site')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('entity', 'ndc11'), name='p340b_exclusion_once'), models.CheckConstraint(condition=models.Q(('ndc11__regex', '^[0-9]{11}$')), name='p340b_exclusion_ndc11')],
            },
        ),
        migrations.CreateModel(
            name='PayerRule',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('action', models.CharField(choices=[('exclude', 'Carved out: never 340B'), ('bill_340b', '340B: mark the claim (SCC 20)')], max_length=10)),
                ('basis_of_cost_08', models.BooleanField(default=False)),
                ('note', models.CharField(blank=True, max_length=200)),
                ('updated_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('entity', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='payer_rules', to='program340b.coveredentity')),
                ('plan', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='claims.plan')),
                ('site', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.site')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('entity', 'plan'), name='p340b_one_rule_per_plan'), models.CheckConstraint(condition=models.Q(('action', 'bill_340b'), ('basis_of_cost_08', False), _connector='OR'), name='p340b_basis_only_when_billed')],
            },
        ),
        migrations.CreateModel(
            name='ReplenishmentOrder',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('packages', models.PositiveIntegerField()),
                ('units', models.DecimalField(decimal_places=3, max_digits=14)),
                ('po_number', models.CharField(max_length=30, verbose_name='PO number')),
                ('ordered_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('entity', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='program340b.coveredentity')),
                ('ordered_by', models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('package', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='catalog.package')),
                ('site', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.site')),
            ],
            options={
                'constraints': [models.CheckConstraint(condition=models.Q(('packages__gte', 1)), name='p340b_order_packages'), models.CheckConstraint(condition=models.Q(('units__gt', 0)), name='p340b_order_units'), models.UniqueConstraint(fields=('site', 'po_number', 'package'), name='p340b_po_line_once')],
            },
        ),
        migrations.CreateModel(
            name='Allocation',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('units', models.DecimalField(decimal_places=3, max_digits=14)),
                ('site', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.site')),
                ('capture', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='allocations', to='program340b.capture')),
                ('order', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='allocations', to='program340b.replenishmentorder')),
            ],
            options={
                'constraints': [models.CheckConstraint(condition=models.Q(('units__gt', 0)), name='p340b_allocation_units'), models.UniqueConstraint(fields=('order', 'capture'), name='p340b_allocation_once')],
            },
        ),
    ]
