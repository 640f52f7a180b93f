import django.contrib.auth.models
import django.contrib.auth.validators
import django.db.models.deletion
import django.utils.timezone
import rxdesk.core.validators
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('auth', '0012_alter_user_first_name_max_length'),
    ]

    operations = [
        migrations.CreateModel(
            name='Site',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=120)),
                ('address_line1', models.CharField(blank=True, max_length=120)),
                ('address_line2', models.CharField(blank=True, max_length=120)),
                ('city', models.CharField(blank=True, max_length=80)),
                ('state', models.CharField(blank=True, help_text='Two-letter USPS code', max_length=2, validators=[rxdesk.core.validators.validate_state])),
                ('postal_code', models.CharField(blank=True, max_length=10, validators=[rxdesk.core.validators.validate_postal_code])),
                ('phone', models.CharField(blank=True, max_length=10, validators=[rxdesk.core.validators.validate_phone])),
                ('ncpdp_id', models.CharField(blank=True, max_length=7, validators=[rxdesk.core.validators.validate_ncpdp_id], verbose_name='NCPDP provider ID')),
                ('npi', models.CharField(blank=True, max_length=10, validators=[rxdesk.core.validators.validate_npi], verbose_name='NPI')),
                ('dea_number', models.CharField(blank=True, max_length=9, validators=[rxdesk.core.validators.validate_dea], verbose_name='DEA registration')),
                ('time_zone', models.CharField(default='America/New_York', max_length=64, validators=[rxdesk.core.validators.validate_time_zone])),
                ('setting', models.CharField(choices=[('retail', 'Retail / community'), ('hospital', 'Hospital / institutional'), ('ltc', 'Long-term care'), ('specialty', 'Specialty'), ('compounding', 'Compounding')], default='retail', max_length=20)),
                ('session_idle_minutes', models.PositiveSmallIntegerField(default=15, help_text='Sign a user out after this many idle minutes (1–240).')),
                ('mfa_required', models.BooleanField(default=False, help_text='Pharmacists and staff who handle controlled substances must use TOTP.', verbose_name='second factor required')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
            ],
            options={
                'constraints': [models.CheckConstraint(condition=models.Q(('session_idle_minutes__gte', 1), ('session_idle_minutes__lte', 240)), name='site_idle_minutes_range')],
            },
        ),
        migrations.CreateModel(
            name='AuditEvent',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('seq', models.PositiveBigIntegerField()),
                ('occurred_at', models.DateTimeField()),
                ('actor_name', models.CharField(max_length=150)),
                ('actor_kind', models.CharField(default='user', max_length=10)),
                ('api_token_id', models.BigIntegerField(blank=True, null=True)),
                ('action', models.CharField(db_index=True, max_length=80)),
                ('object_type', models.CharField(blank=True, max_length=60)),
                ('object_id', models.CharField(blank=True, max_length=40)),
                ('patient_id', models.BigIntegerField(blank=True, db_index=True, null=True)),
                ('data', models.TextField(default='{}')),
                ('reason', models.CharField(blank=True, max_length=500)),
                ('request_id', models.CharField(blank=True, max_length=36)),
                ('client_addr', models.CharField(blank=True, max_length=45)),
                ('prev_hash', models.CharField(max_length=64)),
                ('hash', models.CharField(max_length=64, unique=True)),
            ],
            options={
                'ordering': ['site_id', 'seq'],
            },
        ),
        migrations.CreateModel(
            name='User',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('password', models.CharField(max_length=128, verbose_name='password')),
                ('last_login', models.DateTimeField(blank=True, null=True, verbose_name='last login')),
                ('is_superuser', models.BooleanField(default=False, help_text='Designates that this user has all permissions without explicitly assigning them.', verbose_name='superuser status')),
                ('username', models.CharField(error_messages={'unique': 'A user with that username already exists.'}, help_text='Required. 150 characters or fewer. Letters, digits and @/./+/-/_ only.', max_length=150, unique=True, validators=[django.contrib.auth.validators.UnicodeUsernameValidator()], verbose_name='username')),
                ('first_name', models.CharField(blank=True, max_length=150, verbose_name='first name')),
                ('last_name', models.CharField(blank=True, max_length=150, verbose_name='last name')),
                ('email', models.EmailField(blank=True, max_length=254, verbose_name='email address')),
                ('is_staff', models.BooleanField(default=False, help_text='Designates whether the user can log into this admin site.', verbose_name='staff status')),
                ('is_active', models.BooleanField(default=True, help_text='Designates whether this user should be treated as active. Unselect this instead of deleting accounts.', verbose_name='active')),
                ('date_joined', models.DateTimeField(default=django.utils.timezone.now, verbose_name='date joined')),
                ('role', models.CharField(choices=[('technician', 'Pharmacy technician'), ('technician_in_training', 'Technician in training'), ('pharmacist', 'Pharmacist'), ('pharmacist_in_charge', 'Pharmacist-in-charge'), ('inventory_specialist', 'Inventory specialist'), ('auditor', 'Auditor'), ('admin', 'Administrator')], max_length=32)),
                ('technician_registration', models.CharField(blank=True, max_length=40)),
                ('technician_registration_expires', models.DateField(blank=True, null=True)),
                ('certification', models.CharField(blank=True, choices=[('', 'None'), ('ptcb', 'PTCB CPhT'), ('excpt', 'NHA ExCPT')], default='', max_length=10)),
                ('certification_number', models.CharField(blank=True, max_length=40)),
                ('certification_expires', models.DateField(blank=True, null=True)),
                ('pharmacist_license', models.CharField(blank=True, max_length=40)),
                ('pharmacist_license_expires', models.DateField(blank=True, null=True)),
                ('groups', models.ManyToManyField(blank=True, help_text='The groups this user belongs to. A user will get all permissions granted to each of their groups.', related_name='user_set', related_query_name='user', to='auth.group', verbose_name='groups')),
                ('user_permissions', models.ManyToManyField(blank=True, help_text='Specific permissions for this user.', related_name='user_set', related_query_name='user', to='auth.permission', verbose_name='user permissions')),
            ],
            managers=[
                ('objects', django.contrib.auth.models.UserManager()),
            ],
        ),
        migrations.CreateModel(
            name='ApiToken',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(blank=True, max_length=80)),
                ('prefix', models.CharField(db_index=True, max_length=12)),
                ('digest', models.CharField(max_length=64, unique=True)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('last_used_at', models.DateTimeField(blank=True, null=True)),
                ('revoked_at', models.DateTimeField(blank=True, null=True)),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='api_tokens', to=settings.AUTH_USER_MODEL)),
            ],
        ),
        migrations.CreateModel(
            name='AuditChainHead',
            fields=[
                ('site', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, primary_key=True, related_name='+', serialize=False, to='core.site')),
                ('seq', models.PositiveBigIntegerField(default=0)),
                ('hash', models.CharField(max_length=64)),
            ],
        ),
        migrations.AddField(
            model_name='user',
            name='site',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='staff', to='core.site'),
        ),
        migrations.AddField(
            model_name='auditevent',
            name='actor',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='auditevent',
            name='site',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.site'),
        ),
        migrations.AddConstraint(
            model_name='user',
            constraint=models.CheckConstraint(condition=models.Q(('role__in', ['technician', 'technician_in_training', 'pharmacist', 'pharmacist_in_charge', 'inventory_specialist', 'auditor', 'admin'])), name='user_role_valid'),
        ),
        migrations.AddIndex(
            model_name='auditevent',
            index=models.Index(fields=['site', 'occurred_at'], name='audit_site_when'),
        ),
        migrations.AddIndex(
            model_name='auditevent',
            index=models.Index(fields=['actor_name', 'occurred_at'], name='audit_actor_when'),
        ),
        migrations.AddConstraint(
            model_name='auditevent',
            constraint=models.UniqueConstraint(fields=('site', 'seq'), name='audit_site_seq_unique'),
        ),
    ]
