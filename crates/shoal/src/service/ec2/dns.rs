//! What a VPC's DNS resolver (`api::dns`) answers: the private DNS names of the VPC's
//! instances and the names of its load balancers, read in one pass, so the front only
//! translates.

use std::net::Ipv4Addr;

use shoal_model::ec2::{Cidr, InstanceState};
use shoal_model::region::{private_dns_domain, private_dns_name};

use crate::service::Service;

/// One VPC's zone, as the Amazon-provided DNS server at the VPC's `.2` answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VpcDns {
    /// `ec2.internal` in us-east-1, `<region>.compute.internal` elsewhere.
    pub domain: String,
    pub cidr: Cidr,
    /// Each instance's private DNS name (`ip-172-31-0-5.ec2.internal`) and address:
    /// every instance of the VPC that holds its address (all but terminated ones, as
    /// EC2 keeps a stopped instance's private address and name).
    pub hosts: Vec<(String, Ipv4Addr)>,
    /// Each load balancer of the VPC: its DNS name (`my-lb-1234.us-east-1.elb.amazonaws.com`)
    /// and its interfaces' private addresses, one per subnet, as AWS's resolver answers
    /// a load balancer's name inside its VPC.
    pub load_balancers: Vec<(String, Vec<Ipv4Addr>)>,
}

impl Service {
    /// The VPC's zone, or `None` when this region has no such VPC.
    pub fn vpc_dns(&self, vpc_id: &str) -> Option<VpcDns> {
        let region = self.region();
        self.read(|s| {
            let vpc = s.vpcs.get(vpc_id)?;
            let hosts = s
                .instances
                .values()
                .filter(|i| i.vpc_id == vpc_id && i.state != InstanceState::Terminated)
                .map(|i| (private_dns_name(region, i.private_ip), i.private_ip))
                .collect();
            let load_balancers = s
                .load_balancers
                .values()
                .filter(|lb| lb.vpc_id == vpc_id && !lb.dns_name.is_empty())
                .map(|lb| {
                    (lb.dns_name.clone(), lb.interfaces.iter().map(|n| n.private_ip).collect())
                })
                .collect();
            Some(VpcDns {
                domain: private_dns_domain(region),
                cidr: vpc.cidr,
                hosts,
                load_balancers,
            })
        })
    }
}
