//! Route tables, internet gateways and network ACLs, read-only views of the VPCs: each VPC has its
//! main route table (a `local` route for its block; the default VPC's also sends
//! 0.0.0.0/0 to its internet gateway), and the default VPC has an attached internet
//! gateway, as every AWS account's default VPC does; each VPC has its default network
//! ACL, associated with each of its subnets. Nothing here is stored: each is
//! derived from its VPC and exists exactly as long as the VPC.

use shoal_model::ec2::network_acl::{self, AclEntry};
use shoal_model::ec2::{Subnet, Vpc};
use shoal_model::filter::{self, Filter, Filterable};
use shoal_model::tags::Tag;
use shoal_model::ErrorCode;
use shoal_model::{AwsError, AwsResult};

use crate::service::page::{Page, Paging};
use crate::service::Service;

/// A VPC's main route table.
#[derive(Debug, Clone)]
pub struct RouteTable {
    pub id: String,
    pub main_association_id: String,
    pub vpc_id: String,
    /// `(destination, gateway id or "local", origin)`.
    pub routes: Vec<(String, String, &'static str)>,
}

/// The default VPC's internet gateway.
#[derive(Debug, Clone)]
pub struct InternetGateway {
    pub id: String,
    pub vpc_id: String,
}

/// A VPC's default network ACL.
#[derive(Debug, Clone)]
pub struct NetworkAcl {
    pub id: String,
    pub vpc_id: String,
    pub entries: Vec<AclEntry>,
    /// `(association id, subnet id)`, one per subnet of the VPC.
    pub associations: Vec<(String, String)>,
}

fn suffix(vpc: &Vpc) -> &str {
    vpc.id.trim_start_matches("vpc-")
}

fn gateway_of(vpc: &Vpc) -> Option<InternetGateway> {
    vpc.is_default
        .then(|| InternetGateway { id: format!("igw-{}", suffix(vpc)), vpc_id: vpc.id.clone() })
}

fn route_table_of(vpc: &Vpc) -> RouteTable {
    let mut routes = vec![(vpc.cidr.to_string(), "local".to_string(), "CreateRouteTable")];
    if let Some(igw) = gateway_of(vpc) {
        routes.push(("0.0.0.0/0".into(), igw.id, "CreateRoute"));
    }
    RouteTable {
        id: format!("rtb-{}", suffix(vpc)),
        main_association_id: format!("rtbassoc-{}", suffix(vpc)),
        vpc_id: vpc.id.clone(),
        routes,
    }
}

/// The ids derive from the VPC's and subnets' as the route table's do, so they are
/// stable across restarts without being stored.
fn network_acl_of(vpc: &Vpc, subnets: &[&Subnet]) -> NetworkAcl {
    let associations = subnets
        .iter()
        .filter(|s| s.vpc_id == vpc.id)
        .map(|s| (format!("aclassoc-{}", s.id.trim_start_matches("subnet-")), s.id.clone()))
        .collect();
    NetworkAcl {
        id: format!("acl-{}", suffix(vpc)),
        vpc_id: vpc.id.clone(),
        entries: network_acl::default_entries(),
        associations,
    }
}

impl Filterable for NetworkAcl {
    fn field(&self, name: &str) -> Option<Vec<String>> {
        let one = |v: &str| Some(vec![v.to_string()]);
        let entries = |f: &dyn Fn(&AclEntry) -> String| Some(self.entries.iter().map(f).collect());
        match name {
            "network-acl-id" => one(&self.id),
            "vpc-id" => one(&self.vpc_id),
            "default" => one("true"),
            "owner-id" => one(shoal_model::ACCOUNT_ID),
            "association.association-id" => {
                Some(self.associations.iter().map(|a| a.0.clone()).collect())
            }
            "association.network-acl-id" => {
                Some(self.associations.iter().map(|_| self.id.clone()).collect())
            }
            "association.subnet-id" => {
                Some(self.associations.iter().map(|a| a.1.clone()).collect())
            }
            "entry.cidr" => entries(&|e| e.cidr_block.to_string()),
            "entry.egress" => entries(&|e| e.egress.to_string()),
            "entry.protocol" => entries(&|e| e.protocol.to_string()),
            "entry.rule-action" => entries(&|e| e.rule_action.to_string()),
            "entry.rule-number" => entries(&|e| e.rule_number.to_string()),
            _ => None,
        }
    }
    fn tags(&self) -> &[Tag] {
        &[]
    }
}

impl Filterable for RouteTable {
    fn field(&self, name: &str) -> Option<Vec<String>> {
        let one = |v: &str| Some(vec![v.to_string()]);
        match name {
            "route-table-id" => one(&self.id),
            "vpc-id" => one(&self.vpc_id),
            "association.main" => one("true"),
            "association.route-table-association-id" => one(&self.main_association_id),
            "association.route-table-id" => one(&self.id),
            // Subnets are associated implicitly, with no association of their own.
            "association.subnet-id" | "association.gateway-id" => Some(vec![]),
            "route.destination-cidr-block" => {
                Some(self.routes.iter().map(|r| r.0.clone()).collect())
            }
            "route.gateway-id" => Some(self.routes.iter().map(|r| r.1.clone()).collect()),
            "route.origin" => Some(self.routes.iter().map(|r| r.2.to_string()).collect()),
            "route.state" => one("active"),
            "owner-id" => one(shoal_model::ACCOUNT_ID),
            _ => None,
        }
    }
    fn tags(&self) -> &[Tag] {
        &[]
    }
}

impl Filterable for InternetGateway {
    fn field(&self, name: &str) -> Option<Vec<String>> {
        let one = |v: &str| Some(vec![v.to_string()]);
        match name {
            "internet-gateway-id" => one(&self.id),
            "attachment.vpc-id" => one(&self.vpc_id),
            "attachment.state" => one("available"),
            "owner-id" => one(shoal_model::ACCOUNT_ID),
            _ => None,
        }
    }
    fn tags(&self) -> &[Tag] {
        &[]
    }
}

pub(super) fn pick<T: Filterable + Clone>(
    all: Vec<T>,
    id_of: impl Fn(&T) -> &str,
    ids: &[String],
    filters: &[Filter],
    not_found: impl Fn(&str) -> AwsError,
) -> AwsResult<Vec<T>> {
    if let Some(missing) = ids.iter().find(|id| !all.iter().any(|t| id_of(t) == id.as_str())) {
        return Err(not_found(missing));
    }
    let mut out = vec![];
    for item in all {
        if !ids.is_empty() && !ids.iter().any(|id| id == id_of(&item)) {
            continue;
        }
        if filter::matches(&item, filters)? {
            out.push(item);
        }
    }
    Ok(out)
}

impl Service {
    pub fn describe_route_tables(
        &self,
        ids: &[String],
        filters: &[Filter],
    ) -> AwsResult<Vec<RouteTable>> {
        let all = self.read(|s| s.vpcs.values().map(route_table_of).collect());
        pick(
            all,
            |t: &RouteTable| &t.id,
            ids,
            filters,
            |id| {
                AwsError::new(
                    ErrorCode::InvalidRouteTableIDNotFound,
                    format!("The routeTable ID '{id}' does not exist"),
                )
            },
        )
    }

    pub fn describe_internet_gateways(
        &self,
        ids: &[String],
        filters: &[Filter],
    ) -> AwsResult<Vec<InternetGateway>> {
        let all = self.read(|s| s.vpcs.values().filter_map(gateway_of).collect());
        pick(
            all,
            |g: &InternetGateway| &g.id,
            ids,
            filters,
            |id| {
                AwsError::new(
                    ErrorCode::InvalidInternetGatewayIDNotFound,
                    format!("The internetGateway ID '{id}' does not exist"),
                )
            },
        )
    }

    /// DescribeNetworkAcls: every VPC's default ACL, `MaxResults` 5–1000 as EC2's model bounds it.
    pub fn describe_network_acls(
        &self,
        ids: &[String],
        filters: &[Filter],
        max_results: Option<u32>,
        next_token: Option<&str>,
    ) -> AwsResult<Page<NetworkAcl>> {
        let all = self.read(|s| {
            let subnets: Vec<&Subnet> = s.subnets.values().collect();
            s.vpcs.values().map(|v| network_acl_of(v, &subnets)).collect()
        });
        let found = pick(
            all,
            |a: &NetworkAcl| &a.id,
            ids,
            filters,
            |id| {
                AwsError::new(
                    ErrorCode::InvalidNetworkAclIDNotFound,
                    format!("The networkAcl ID '{id}' does not exist"),
                )
            },
        )?;
        Paging::ec2(5, 1000).page(found, max_results, next_token)
    }
}
