#include "sqlstore/postgres_util.h"

#include <pqxx/pqxx>
#include <vector>

namespace vv::sqlstore {

struct PgConnection::Conn {
  explicit Conn(const std::string& url) : c(url) {}
  pqxx::connection c;
};

namespace {

// Runs `body` in `txn` and commits when it succeeds (a destroyed, uncommitted transaction
// rolls back).
Status RunBody(pqxx::transaction_base& txn, const TxnBody& body) {
  Status s = body(txn);
  if (s.ok()) txn.commit();
  return s;
}

}  // namespace

void ScopeToTenant(pqxx::transaction_base& txn, const std::string& tenant_id) {
  txn.exec("SET LOCAL vv.tenant_id = " + txn.quote(tenant_id));
}

PgConnection::PgConnection(std::string url, std::string label, StatusCode other_errors)
    : url_(std::move(url)), label_(std::move(label)), other_errors_(other_errors) {}

PgConnection::~PgConnection() = default;

Status PgConnection::Connect() {
  MutexLock l(&mu_);
  return ConnectLocked();
}

Status PgConnection::ConnectLocked() {
  if (conn_ && conn_->c.is_open()) return Status::Ok();
  conn_.reset();
  try {
    conn_ = std::make_unique<Conn>(url_);
  } catch (const std::exception& e) {
    return Status::Unavailable(label_ + ": cannot connect: " + e.what());
  }
  return Status::Ok();
}

Status PgConnection::InTransaction(const TxnBody& body) { return Run(nullptr, body); }

Status PgConnection::InTenantTransaction(std::string_view tenant_id, const TxnBody& body) {
  const std::string tenant(tenant_id);
  return Run(&tenant, body);
}

Status PgConnection::Run(const std::string* tenant_id, const TxnBody& body) {
  MutexLock l(&mu_);
  VV_RETURN_IF_ERROR(ConnectLocked());
  try {
    pqxx::work txn(conn_->c);
    if (tenant_id != nullptr) ScopeToTenant(txn, *tenant_id);
    return RunBody(txn, body);
  } catch (const pqxx::broken_connection& e) {
    conn_.reset();
    return Status::Unavailable(label_ + ": " + e.what());
  } catch (const pqxx::sql_error& e) {
    return Status::Unavailable(label_ + ": " + e.what());
  } catch (const std::exception& e) {
    return Status(other_errors_, label_ + ": " + e.what());
  }
}

void EnableTenantIsolation(pqxx::transaction_base& txn, const std::string& table) {
  const std::string policy = table + "_tenant_isolation";
  txn.exec("ALTER TABLE " + table + " ENABLE ROW LEVEL SECURITY");
  txn.exec("ALTER TABLE " + table + " FORCE ROW LEVEL SECURITY");
  txn.exec("DROP POLICY IF EXISTS " + policy + " ON " + table);
  txn.exec("CREATE POLICY " + policy + " ON " + table +
           " USING (tenant_id = current_setting('vv.tenant_id', true))"
           " WITH CHECK (tenant_id = current_setting('vv.tenant_id', true))");
}

void GrantTableAccess(pqxx::transaction_base& txn, const std::string& table,
                      const std::string& privileges, const std::string& role) {
  const std::string grantee = txn.quote_name(role);
  txn.exec("GRANT " + privileges + " ON " + table + " TO " + grantee);
  txn.exec("GRANT USAGE ON SEQUENCE " + table + "_seq_seq TO " + grantee);
}

Status Migrate(const std::string& url, std::string_view label, const TxnBody& body) {
  try {
    pqxx::connection c(url);
    pqxx::work txn(c);
    return RunBody(txn, body);
  } catch (const pqxx::broken_connection& e) {
    return Status::Unavailable(std::string(label) + ": " + e.what());
  } catch (const std::exception& e) {
    return Status::Internal(std::string(label) + " schema: " + e.what());
  }
}

Status RequireLeastPrivilege(PgConnection& conn, const std::string& table,
                             std::string_view label) {
  std::string role;
  std::vector<std::string> problems;
  VV_RETURN_IF_ERROR(conn.InTransaction([&](pqxx::transaction_base& w) {
    pqxx::result r = w.exec_params(
        "SELECT current_user::text, r.rolsuper, r.rolbypassrls,"
        " COALESCE((SELECT pg_has_role(current_user, c.relowner, 'USAGE') FROM pg_class c"
        "  WHERE c.oid = to_regclass($1)), false)"
        " FROM pg_roles r WHERE r.rolname = current_user",
        table);
    if (r.empty()) return Status::Unavailable(std::string(label) + ": cannot read the role");
    role = r[0][0].as<std::string>();
    if (r[0][1].as<bool>()) problems.emplace_back("is a superuser (superusers bypass row-level security)");
    if (r[0][2].as<bool>()) problems.emplace_back("has BYPASSRLS");
    if (r[0][3].as<bool>())
      problems.emplace_back("owns table " + table +
                            " (an owner can disable row-level security)");
    return Status::Ok();
  }));
  if (problems.empty()) return Status::Ok();
  std::string msg = std::string(label) + ": role '" + role + "' ";
  for (size_t i = 0; i < problems.size(); ++i) msg += (i ? ", " : "") + problems[i];
  msg += "; connect as the application role (the schema belongs to a separate owner role)";
  return Status::PermissionDenied(msg);
}

}  // namespace vv::sqlstore
