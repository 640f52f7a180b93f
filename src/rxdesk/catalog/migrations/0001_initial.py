import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
    ]

    operations = [
        migrations.CreateModel(
            name='ImportRun',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(max_length=20)),
                ('source', models.CharField(max_length=500)),
                ('started_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('finished_at', models.DateTimeField(blank=True, null=True)),
                ('created', models.PositiveIntegerField(default=0)),
                ('updated', models.PositiveIntegerField(default=0)),
                ('unchanged', models.PositiveIntegerField(default=0)),
                ('deactivated', models.PositiveIntegerField(default=0)),
                ('rejected', models.PositiveIntegerField(default=0)),
                ('problems', models.TextField(blank=True, help_text='One line per refused row')),
            ],
        ),
        migrations.CreateModel(
            name='ApplicationProduct',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('appl_no', models.CharField(db_index=True, max_length=6)),
                ('product_no', models.CharField(max_length=3)),
                ('drug_name', models.CharField(blank=True, max_length=200)),
                ('active_ingredient', models.CharField(blank=True, max_length=500)),
                ('form', models.CharField(blank=True, max_length=200)),
                ('strength', models.CharField(blank=True, max_length=300)),
                ('reference_drug', models.BooleanField(default=False)),
                ('te_code', models.CharField(blank=True, db_index=True, max_length=10, verbose_name='TE code')),
                ('marketing_status', models.CharField(blank=True, max_length=40)),
            ],
            options={
                'indexes': [models.Index(fields=['active_ingredient', 'form', 'strength'], name='appl_equiv')],
                'constraints': [models.UniqueConstraint(fields=('appl_no', 'product_no'), name='appl_product_unique')],
            },
        ),
        migrations.CreateModel(
            name='Product',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('product_id', models.CharField(max_length=80, unique=True, verbose_name='FDA PRODUCTID')),
                ('product_ndc', models.CharField(db_index=True, help_text='e.g. 0002-3227', max_length=10)),
                ('product_type', models.CharField(max_length=60)),
                ('name', models.CharField(max_length=300, verbose_name='proprietary name')),
                ('name_suffix', models.CharField(blank=True, max_length=200)),
                ('generic_name', models.CharField(blank=True, max_length=600, verbose_name='nonproprietary name')),
                ('tall_man_name', models.CharField(blank=True, help_text='FDA/ISMP tall-man lettering, where it applies', max_length=300)),
                ('dosage_form', models.CharField(blank=True, max_length=100)),
                ('route', models.CharField(blank=True, max_length=200)),
                ('strength', models.CharField(blank=True, help_text='e.g. 10 mg/1; 25 mg/1', max_length=500)),
                ('substances', models.TextField(blank=True)),
                ('pharm_classes', models.TextField(blank=True)),
                ('marketing_category', models.CharField(blank=True, max_length=60)),
                ('application_number', models.CharField(blank=True, db_index=True, max_length=20)),
                ('labeler', models.CharField(blank=True, max_length=200)),
                ('marketing_start', models.DateField(blank=True, null=True)),
                ('marketing_end', models.DateField(blank=True, null=True)),
                ('directory_dea_schedule', models.CharField(blank=True, choices=[('CI', 'Schedule I'), ('CII', 'Schedule II'), ('CIII', 'Schedule III'), ('CIV', 'Schedule IV'), ('CV', 'Schedule V')], help_text='As published in the FDA NDC Directory', max_length=4)),
                ('dea_schedule_override', models.CharField(blank=True, choices=[('CI', 'Schedule I'), ('CII', 'Schedule II'), ('CIII', 'Schedule III'), ('CIV', 'Schedule IV'), ('CV', 'Schedule V')], help_text="A state's stricter scheduling, set by the pharmacist-in-charge", max_length=4)),
                ('hazardous', models.BooleanField(default=False, verbose_name='NIOSH hazardous drug')),
                ('high_alert', models.BooleanField(default=False, verbose_name='ISMP high-alert medication')),
                ('storage', models.CharField(choices=[('room', 'Room temperature (20–25 °C)'), ('refrigerate', 'Refrigerate (2–8 °C)'), ('freeze', 'Freeze (−25 to −10 °C)')], default='room', max_length=12)),
                ('protect_from_light', models.BooleanField(default=False)),
                ('cold_chain', models.BooleanField(default=False)),
                ('rems', models.BooleanField(default=False, verbose_name='REMS program')),
                ('maintenance', models.BooleanField(default=False, verbose_name='maintenance medication')),
                ('unit_dose', models.BooleanField(default=False)),
                ('otc', models.BooleanField(default=False, verbose_name='over the counter')),
                ('excluded', models.BooleanField(default=False, help_text="On FDA's excluded list (NDC_EXCLUDE_FLAG E)")),
                ('active', models.BooleanField(default=True, help_text='In the latest directory import')),
                ('imported_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('look_alikes', models.ManyToManyField(blank=True, help_text='Look-alike / sound-alike partners', to='catalog.product')),
            ],
            options={
                'indexes': [models.Index(fields=['name'], name='product_name')],
            },
        ),
        migrations.CreateModel(
            name='Package',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('ndc11', models.CharField(max_length=11, unique=True, verbose_name='NDC (11-digit)')),
                ('ndc10', models.CharField(help_text='e.g. 0002-3227-30', max_length=12, verbose_name='NDC as printed')),
                ('description', models.CharField(max_length=500)),
                ('billing_unit', models.CharField(choices=[('EA', 'Each'), ('ML', 'Milliliter'), ('GM', 'Gram')], max_length=2)),
                ('package_quantity', models.DecimalField(decimal_places=3, help_text='Billing units in the package', max_digits=12)),
                ('marketing_start', models.DateField(blank=True, null=True)),
                ('marketing_end', models.DateField(blank=True, null=True)),
                ('sample', models.BooleanField(default=False)),
                ('active', models.BooleanField(default=True, help_text='In the latest directory import')),
                ('product', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='packages', to='catalog.product')),
            ],
            options={
                'constraints': [models.CheckConstraint(condition=models.Q(('ndc11__regex', '^[0-9]{11}$')), name='package_ndc11_digits'), models.CheckConstraint(condition=models.Q(('package_quantity__gt', 0)), name='package_quantity_positive')],
            },
        ),
        migrations.CreateModel(
            name='Ingredient',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('position', models.PositiveSmallIntegerField()),
                ('name', models.CharField(max_length=300)),
                ('strength', models.CharField(blank=True, max_length=40)),
                ('unit', models.CharField(blank=True, max_length=80)),
                ('product', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='ingredients', to='catalog.product')),
            ],
            options={
                'ordering': ['product', 'position'],
                'constraints': [models.UniqueConstraint(fields=('product', 'position'), name='ingredient_position')],
            },
        ),
        migrations.CreateModel(
            name='PackagePrice',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('acquisition', 'Acquisition cost'), ('list', 'List price (AWP-style)'), ('usual_customary', 'Usual and customary')], max_length=16)),
                ('amount', models.DecimalField(decimal_places=2, max_digits=12)),
                ('effective_on', models.DateField()),
                ('recorded_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('package', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='prices', to='catalog.package')),
            ],
            options={
                'indexes': [models.Index(fields=['package', 'kind', '-effective_on'], name='price_latest')],
                'constraints': [models.UniqueConstraint(fields=('package', 'kind', 'effective_on'), name='price_once_per_day'), models.CheckConstraint(condition=models.Q(('amount__gte', 0)), name='price_not_negative')],
            },
        ),
    ]
