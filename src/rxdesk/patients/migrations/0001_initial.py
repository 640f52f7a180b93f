import django.core.validators
import django.db.models.deletion
import django.db.models.functions.text
import django.utils.timezone
import rxdesk.core.validators
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('core', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='Patient',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('first_name', models.CharField(max_length=60)),
                ('middle_name', models.CharField(blank=True, max_length=60)),
                ('last_name', models.CharField(max_length=60)),
                ('suffix', models.CharField(blank=True, max_length=10)),
                ('preferred_name', models.CharField(blank=True, max_length=60)),
                ('date_of_birth', models.DateField()),
                ('sex', models.CharField(choices=[('U', 'Not specified'), ('M', 'Male'), ('F', 'Female')], default='U', max_length=1)),
                ('status', models.CharField(choices=[('active', 'Active'), ('inactive', 'Inactive'), ('deceased', 'Deceased')], default='active', max_length=10)),
                ('address_line1', models.CharField(blank=True, max_length=120)),
                ('address_line2', models.CharField(blank=True, max_length=120)),
                ('city', models.CharField(blank=True, max_length=80)),
                ('state', models.CharField(blank=True, max_length=2, validators=[rxdesk.core.validators.validate_state])),
                ('postal_code', models.CharField(blank=True, max_length=10, validators=[rxdesk.core.validators.validate_postal_code])),
                ('phone_mobile', models.CharField(blank=True, max_length=10, validators=[rxdesk.core.validators.validate_phone])),
                ('phone_home', models.CharField(blank=True, max_length=10, validators=[rxdesk.core.validators.validate_phone])),
                ('phone_work', models.CharField(blank=True, max_length=10, validators=[rxdesk.core.validators.validate_phone])),
                ('email', models.EmailField(blank=True, max_length=254)),
                ('preferred_language', models.CharField(choices=[('en', 'English'), ('es', 'Spanish'), ('zh', 'Chinese'), ('vi', 'Vietnamese'), ('tl', 'Tagalog'), ('ko', 'Korean'), ('ar', 'Arabic'), ('ru', 'Russian'), ('fr', 'French'), ('ht', 'Haitian Creole'), ('pt', 'Portuguese'), ('pl', 'Polish'), ('other', 'Other')], default='en', max_length=8)),
                ('pregnancy_status', models.CharField(choices=[('unknown', 'Unknown'), ('not_pregnant', 'Not pregnant'), ('pregnant', 'Pregnant'), ('not_applicable', 'Not applicable')], default='unknown', max_length=20)),
                ('lactation_status', models.CharField(choices=[('unknown', 'Unknown'), ('not_lactating', 'Not breastfeeding'), ('lactating', 'Breastfeeding'), ('not_applicable', 'Not applicable')], default='unknown', max_length=20)),
                ('pregnancy_recorded_on', models.DateField(blank=True, null=True)),
                ('allergy_status', models.CharField(choices=[('not_asked', 'Allergies not yet recorded'), ('nka', 'No known allergies'), ('has', 'Has allergies')], default='not_asked', max_length=12)),
                ('allergies_reviewed_at', models.DateTimeField(blank=True, null=True)),
                ('privacy_notice', models.CharField(blank=True, choices=[('', 'Not yet given'), ('signed', 'Signed acknowledgement'), ('electronic', 'Electronic acknowledgement'), ('refused', 'Notice given; patient declined to sign')], default='', max_length=12, verbose_name='HIPAA privacy notice')),
                ('privacy_notice_on', models.DateField(blank=True, null=True)),
                ('contact_method', models.CharField(choices=[('sms', 'Text message'), ('phone', 'Phone call'), ('email', 'Email'), ('none', 'Do not contact')], default='phone', max_length=8)),
                ('refill_reminders', models.BooleanField(default=False)),
                ('easy_open_caps', models.BooleanField(default=False, help_text='Poison Prevention Packaging Act waiver requested by the patient.', verbose_name='non-child-resistant caps requested')),
                ('large_print', models.BooleanField(default=False, verbose_name='large-print labels')),
                ('possible_duplicate', models.BooleanField(default=False, help_text='Created although another patient has the same name and birth date.')),
                ('last_name_key', models.CharField(db_index=True, editable=False, max_length=60)),
                ('first_name_key', models.CharField(editable=False, max_length=60)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                ('updated_at', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                ('site', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.site')),
            ],
            options={
                'indexes': [models.Index(fields=['site', 'last_name_key', 'first_name_key'], name='patient_name'), models.Index(fields=['site', 'date_of_birth'], name='patient_dob'), models.Index(fields=['site', 'phone_mobile'], name='patient_mobile'), models.Index(fields=['site', 'phone_home'], name='patient_home')],
                'constraints': [models.CheckConstraint(condition=models.Q(('first_name', ''), _negated=True), name='patient_first_name'), models.CheckConstraint(condition=models.Q(('last_name', ''), _negated=True), name='patient_last_name')],
            },
        ),
        migrations.CreateModel(
            name='Measurement',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('weight', 'Weight'), ('height', 'Height')], max_length=8)),
                ('value', models.DecimalField(decimal_places=2, max_digits=6, validators=[django.core.validators.MinValueValidator(0)])),
                ('measured_on', models.DateField()),
                ('recorded_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('recorded_by', models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('patient', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='measurements', to='patients.patient')),
            ],
            options={
                'indexes': [models.Index(fields=['patient', 'kind', '-measured_on'], name='measure_latest')],
                'constraints': [models.CheckConstraint(condition=models.Q(('value__gt', 0)), name='measurement_positive')],
            },
        ),
        migrations.CreateModel(
            name='Coverage',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('rank', models.PositiveSmallIntegerField(default=1, help_text='1 primary, 2 secondary, 3 tertiary')),
                ('plan_name', models.CharField(blank=True, max_length=80)),
                ('bin', models.CharField(max_length=6, validators=[django.core.validators.RegexValidator('^\\d{6}$', 'A BIN is exactly 6 digits.')], verbose_name='BIN')),
                ('pcn', models.CharField(blank=True, max_length=10, verbose_name='PCN')),
                ('group', models.CharField(blank=True, max_length=15)),
                ('member_id', models.CharField(max_length=20, verbose_name='cardholder ID')),
                ('person_code', models.CharField(blank=True, max_length=3)),
                ('relationship', models.CharField(choices=[('1', 'Cardholder'), ('2', 'Spouse'), ('3', 'Child'), ('4', 'Other')], default='1', max_length=1)),
                ('effective_on', models.DateField(blank=True, null=True)),
                ('terminates_on', models.DateField(blank=True, null=True)),
                ('active', models.BooleanField(default=True)),
                ('patient', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='coverages', to='patients.patient')),
            ],
            options={
                'constraints': [models.CheckConstraint(condition=models.Q(('rank__gte', 1), ('rank__lte', 3)), name='coverage_rank_range'), models.UniqueConstraint(condition=models.Q(('active', True)), fields=('patient', 'rank'), name='coverage_active_rank_unique')],
            },
        ),
        migrations.CreateModel(
            name='Condition',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('icd10', models.CharField(blank=True, max_length=8, validators=[django.core.validators.RegexValidator('^[A-TV-Z][0-9][0-9A-Z](\\.[0-9A-Z]{1,4})?$', 'An ICD-10-CM code looks like E11.9 or I10.')], verbose_name='ICD-10-CM code')),
                ('description', models.CharField(max_length=200)),
                ('onset', models.DateField(blank=True, null=True)),
                ('status', models.CharField(choices=[('active', 'Active'), ('resolved', 'Resolved')], default='active', max_length=10)),
                ('recorded_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('recorded_by', models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('patient', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='conditions', to='patients.patient')),
            ],
        ),
        migrations.CreateModel(
            name='Allergy',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('allergen_kind', models.CharField(choices=[('ingredient', 'Drug ingredient'), ('class', 'Drug class'), ('excipient', 'Inactive ingredient / excipient'), ('non_drug', 'Food or environmental')], max_length=12)),
                ('allergen', models.CharField(help_text='Ingredient or class name', max_length=120)),
                ('allergen_code', models.CharField(blank=True, help_text='Code of the ingredient or class (e.g. RxNorm, UNII)', max_length=20)),
                ('allergy_type', models.CharField(choices=[('allergy', 'Allergy'), ('intolerance', 'Intolerance / side effect')], default='allergy', max_length=12)),
                ('reaction', models.CharField(blank=True, max_length=200)),
                ('severity', models.CharField(choices=[('mild', 'Mild'), ('moderate', 'Moderate'), ('severe', 'Severe'), ('life_threatening', 'Life-threatening (e.g. anaphylaxis)'), ('unknown', 'Unknown')], default='unknown', max_length=20)),
                ('source', models.CharField(choices=[('patient', 'Patient'), ('caregiver', 'Caregiver / family'), ('prescriber', 'Prescriber'), ('pharmacist', 'Pharmacist'), ('record', 'Outside record')], default='patient', max_length=12)),
                ('active', models.BooleanField(default=True)),
                ('inactivated_reason', models.CharField(blank=True, max_length=200)),
                ('recorded_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('recorded_by', models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('patient', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='allergies', to='patients.patient')),
            ],
            options={
                'verbose_name_plural': 'allergies',
                'constraints': [models.UniqueConstraint(django.db.models.functions.text.Lower('allergen'), models.F('patient'), models.F('allergen_kind'), condition=models.Q(('active', True)), name='allergy_active_unique'), models.CheckConstraint(condition=models.Q(('allergen', ''), _negated=True), name='allergy_allergen')],
            },
        ),
        migrations.CreateModel(
            name='PatientIdentifier',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('drivers_license', "Driver's license"), ('state_id', 'State ID'), ('medicare_mbi', 'Medicare beneficiary ID'), ('medicaid', 'Medicaid ID'), ('mrn', 'Medical record number'), ('passport', 'Passport'), ('ssn_last4', 'SSN, last four digits'), ('other', 'Other')], max_length=20)),
                ('value', models.CharField(max_length=40)),
                ('issuer', models.CharField(blank=True, help_text='e.g. issuing state', max_length=40)),
                ('patient', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='identifiers', to='patients.patient')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('patient', 'kind', 'value'), name='patient_ident_unique')],
            },
        ),
        migrations.CreateModel(
            name='Prescriber',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('first_name', models.CharField(max_length=60)),
                ('middle_name', models.CharField(blank=True, max_length=60)),
                ('last_name', models.CharField(max_length=60)),
                ('suffix', models.CharField(blank=True, max_length=10)),
                ('credential', models.CharField(blank=True, choices=[('MD', 'MD'), ('DO', 'DO'), ('NP', 'Nurse practitioner'), ('PA', 'Physician assistant'), ('DDS', 'DDS / DMD'), ('DPM', 'DPM'), ('OD', 'Optometrist'), ('DVM', 'Veterinarian'), ('CNM', 'Certified nurse midwife'), ('RPh', 'Pharmacist prescriber'), ('other', 'Other')], max_length=6)),
                ('npi', models.CharField(max_length=10, validators=[rxdesk.core.validators.validate_npi], verbose_name='NPI')),
                ('dea_number', models.CharField(blank=True, max_length=9, validators=[rxdesk.core.validators.validate_dea], verbose_name='DEA number')),
                ('dea_suffix', models.CharField(blank=True, max_length=10, verbose_name='DEA institutional suffix')),
                ('state_license', models.CharField(blank=True, max_length=30)),
                ('state_license_state', models.CharField(blank=True, max_length=2, validators=[rxdesk.core.validators.validate_state])),
                ('specialty', models.CharField(blank=True, max_length=80)),
                ('active', models.BooleanField(default=True)),
                ('last_name_key', models.CharField(db_index=True, editable=False, max_length=60)),
                ('first_name_key', models.CharField(editable=False, max_length=60)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                ('site', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.site')),
            ],
            options={
                'indexes': [models.Index(fields=['site', 'last_name_key', 'first_name_key'], name='prescriber_name')],
                'constraints': [models.UniqueConstraint(fields=('site', 'npi'), name='prescriber_site_npi_unique'), models.CheckConstraint(condition=models.Q(('last_name', ''), _negated=True), name='prescriber_last_name')],
            },
        ),
        migrations.CreateModel(
            name='PrescriberAddress',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('label', models.CharField(blank=True, help_text='e.g. clinic name', max_length=60)),
                ('address_line1', models.CharField(max_length=120)),
                ('address_line2', models.CharField(blank=True, max_length=120)),
                ('city', models.CharField(max_length=80)),
                ('state', models.CharField(max_length=2, validators=[rxdesk.core.validators.validate_state])),
                ('postal_code', models.CharField(max_length=10, validators=[rxdesk.core.validators.validate_postal_code])),
                ('phone', models.CharField(max_length=10, validators=[rxdesk.core.validators.validate_phone])),
                ('fax', models.CharField(blank=True, max_length=10, validators=[rxdesk.core.validators.validate_phone])),
                ('primary', models.BooleanField(default=True)),
                ('prescriber', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='addresses', to='patients.prescriber')),
            ],
        ),
    ]
